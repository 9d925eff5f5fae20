#include "galaxy/publish/stdout_sink.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include "galaxy/contract/codec.hpp"

namespace galaxy::publish {
namespace {

std::string read_all(int fd) {
  std::string out;
  char buf[4096];
  ssize_t n = 0;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) {
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

TEST(StdoutSink, WritesOneCanonicalLinePerEventInOrder) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const contract::Event a{"g", "c", 1, contract::ContainerStarted{"img"}};
  const contract::Event b{"g", "c", 2, contract::ContainerExited{3, false}};
  {
    StdoutSink sink(StdoutSinkSettings{fds[1], 16});
    sink.emit(a);
    sink.emit(b);
    sink.stop(std::chrono::seconds(5));
    EXPECT_EQ(sink.written(), 2U);
    EXPECT_EQ(sink.dropped(), 0U);
  }
  ::close(fds[1]);
  EXPECT_EQ(read_all(fds[0]),
            contract::encode_payload(a) + "\n" + contract::encode_payload(b) + "\n");
  ::close(fds[0]);
}

TEST(StdoutSink, CountsWhatItCannotTake) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  StdoutSink sink(StdoutSinkSettings{fds[1], 4});
  sink.stop(std::chrono::milliseconds(0));
  sink.emit(contract::Event{"g", "c", 1, contract::ContainerDisappeared{}});
  EXPECT_EQ(sink.dropped(), 1U);
  EXPECT_EQ(sink.written(), 0U);
  ::close(fds[0]);
  ::close(fds[1]);
}

}  // namespace
}  // namespace galaxy::publish
