# The active HTTP /healthz prober (EMISSION-RULES.md Source 3), included from this folder's
# CMakeLists.txt. Its own library so it builds and tests while the rest of the module is written.
galaxy_module(probe
  SOURCES probe_response.cpp probe_session.cpp probe_state.cpp probe_scheduler.cpp
  DEPS galaxy::common galaxy::contract Boost::system Threads::Threads)
