// Listen addresses of the daemon's HTTP listeners (the admin endpoint, the lifecycle API), parsed
// one way so every flag names its mistakes alike.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <string>

#include "galaxy/common/result.hpp"

namespace galaxy {

// "HOST:PORT" ("[::1]:PORT" for IPv6) to an endpoint; errors name what is wrong ("/port",
// "/host"). HOST must be an IP address: the listener binds at start, before any resolver is
// worth trusting, and "" means every IPv4 address.
Result<boost::asio::ip::tcp::endpoint> parse_listen_address(const std::string& text);

}  // namespace galaxy
