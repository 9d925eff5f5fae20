#include "galaxy/common/listen_address.hpp"

#include <boost/asio/ip/address.hpp>
#include <charconv>

namespace galaxy {

Result<boost::asio::ip::tcp::endpoint> parse_listen_address(const std::string& text) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon + 1 == text.size()) {
    return make_error("/port", "expected HOST:PORT, e.g. 127.0.0.1:7464");
  }
  std::string host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  const std::string port_text = text.substr(colon + 1);
  unsigned port = 0;
  const auto [end, ec] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port > 65535) {
    return make_error("/port", "must be a number from 0 to 65535");
  }
  boost::system::error_code aec;
  const auto address = boost::asio::ip::make_address(host.empty() ? "0.0.0.0" : host, aec);
  if (aec) {
    return make_error("/host", "must be an IP address (no names: the listener binds at start)");
  }
  return boost::asio::ip::tcp::endpoint(address, static_cast<unsigned short>(port));
}

}  // namespace galaxy
