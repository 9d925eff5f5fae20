// One probe target: its endpoint and its request, validated once.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <string>
#include <string_view>

#include "galaxy/common/result.hpp"
#include "galaxy/probe/types.hpp"

namespace galaxy::probe {

// Where to probe and the request bytes, built and validated once per target.
class ProbeTarget {
 public:
  // `path` comes from a container label, so it is checked to be a plain origin-form target: a
  // label must not be able to inject header lines.
  static Result<ProbeTarget> make(std::string_view address, std::uint16_t port,
                                  std::string_view path, const ProbeSettings& settings);

  const boost::asio::ip::tcp::endpoint& endpoint() const { return endpoint_; }
  const std::string& request() const { return request_; }

 private:
  ProbeTarget(boost::asio::ip::tcp::endpoint endpoint, std::string request)
      : endpoint_(std::move(endpoint)), request_(std::move(request)) {}

  boost::asio::ip::tcp::endpoint endpoint_;
  std::string request_;
};

}  // namespace galaxy::probe
