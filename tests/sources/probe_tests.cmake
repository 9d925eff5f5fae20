# Tests of the HTTP prober, included from this folder's CMakeLists.txt. The I/O tests use loopback
# servers started in-process, so they are unit tests (no external service).
galaxy_test(probe_test
  SOURCES probe_state_test.cpp probe_schedule_test.cpp probe_reader_test.cpp probe_io_test.cpp
  DEPS galaxy::probe)
