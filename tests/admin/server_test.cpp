// The admin listener over loopback: routing, HEAD, 404/405, the index page, keep-alive, and a bind
// error that names the address. The server runs on its own io_context thread; the client calls
// have deadlines and nothing here asserts how long anything took.
#include "galaxy/admin/server.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <future>
#include <thread>

#include "galaxy/testsupport/http.hpp"

namespace galaxy::admin {
namespace {

using namespace std::chrono_literals;
namespace http = boost::beast::http;

class AdminServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    AdminSettings s;
    s.listen = "127.0.0.1:0";
    server_ = std::make_unique<AdminServer>(ioc_.get_executor(), s);
    server_->add("/livez", "liveness", [](const Request&) {
      return Response{200, "text/plain", "ok\n"};
    });
    server_->add("/echo", "echoes the query", [](const Request& r) {
      std::string body = r.path;
      for (const auto& [k, v] : r.query) {
        body += fmt::format(" {}={}", k, v);
      }
      return Response{418, "text/x-test", body};
    });
    auto started = server_->start();
    ASSERT_TRUE(started) << started.error().message();
    port_ = server_->local_endpoint().port();
    thread_ = std::thread([this] { ioc_.run(); });
  }
  void TearDown() override {
    std::promise<void> stopped;
    boost::asio::post(ioc_, [&] {
      server_->stop();
      stopped.set_value();
    });
    stopped.get_future().wait();
    ioc_.stop();
    thread_.join();
  }
  testsupport::HttpResponse get(const std::string& target, http::verb verb = http::verb::get) {
    auto r = testsupport::http_request("127.0.0.1", port_, verb, target, 10s);
    EXPECT_TRUE(r) << r.error().message();
    return r ? *r : testsupport::HttpResponse{};
  }

  boost::asio::io_context ioc_{1};
  std::unique_ptr<AdminServer> server_;
  std::uint16_t port_ = 0;
  std::thread thread_;
};

TEST_F(AdminServerTest, RoutesByPathWithTheHandlersStatusTypeAndQuery) {
  const auto r = get("/echo?verbose&x=1");
  EXPECT_EQ(r.status, 418U);
  EXPECT_EQ(r.content_type, "text/x-test");
  EXPECT_EQ(r.body, "/echo verbose= x=1");
  EXPECT_EQ(get("/livez").body, "ok\n");
}

TEST_F(AdminServerTest, UnknownPathIs404AndOtherMethods405) {
  EXPECT_EQ(get("/nope").status, 404U);
  EXPECT_EQ(get("/livez", http::verb::post).status, 405U);
  EXPECT_EQ(get("/livez", http::verb::delete_).status, 405U);
}

TEST_F(AdminServerTest, HeadAnswersWithoutABody) {
  const auto r = get("/livez", http::verb::head);
  EXPECT_EQ(r.status, 200U);
  EXPECT_EQ(r.body, "");
}

TEST_F(AdminServerTest, TheIndexListsTheEndpoints) {
  const auto r = get("/");
  EXPECT_EQ(r.status, 200U);
  EXPECT_NE(r.body.find("<a href=\"/livez\">/livez</a>: liveness"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("/echo"), std::string::npos);
}

TEST(AdminListen, ABindFailureNamesTheAddress) {
  boost::asio::io_context ioc;
  AdminSettings s;
  s.listen = "127.0.0.1:0";
  AdminServer first(ioc.get_executor(), s);
  ASSERT_TRUE(first.start());
  s.listen = "127.0.0.1:" + std::to_string(first.local_endpoint().port());
  AdminServer second(ioc.get_executor(), s);
  auto r = second.start();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::io);
  EXPECT_NE(r.error().reason.find(s.listen), std::string::npos) << r.error().reason;
}

}  // namespace
}  // namespace galaxy::admin
