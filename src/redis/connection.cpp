#include "galaxy/redis/connection.hpp"

#include <fmt/format.h>
#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <cerrno>
#include <charconv>
#include <optional>
#include <system_error>
#include <utility>

namespace galaxy::redis {

namespace {

timeval to_timeval(std::chrono::milliseconds d) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(d.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((d.count() % 1000) * 1000);
  return tv;
}

// hiredis 0.14 keeps only err (a class) and errstr (strerror's text for I/O errors): a read that
// hit the socket timeout is REDIS_ERR_IO with EAGAIN's text, a connect that timed out ETIMEDOUT's.
ErrorKind kind_of(const redisContext* ctx) {
  if (ctx == nullptr) {
    return ErrorKind::closed;
  }
  switch (ctx->err) {
    case REDIS_ERR_EOF:
      return ErrorKind::closed;
    case REDIS_ERR_PROTOCOL:
      return ErrorKind::protocol;
    case REDIS_ERR_IO: {
      const std::string_view text(ctx->errstr);
      const auto is = [&](int e) { return text == std::generic_category().message(e); };
      if (is(EAGAIN) || is(ETIMEDOUT) || is(EINPROGRESS)) {
        return ErrorKind::timeout;
      }
      return ErrorKind::io;
    }
    default:
      return ErrorKind::io;
  }
}

// Replies that say this server is not (or no longer, or not yet) the master to write to: the
// command was not executed, and asking the sentinels (or the seeds) again finds the one that is.
bool is_failover_reply(const redisReply* reply) {
  if (!is_error(reply)) {
    return false;
  }
  const auto code = error_code(reply);
  return code == "READONLY" || code == "LOADING" || code == "MASTERDOWN" || code == "UNBLOCKED" ||
         code == "CLUSTERDOWN";
}

struct Redirect {
  bool ask = false;
  int slot = -1;
  std::string host;
  std::uint16_t port = 0;
  bool operator==(const Redirect&) const = default;
};

// "MOVED 3999 127.0.0.1:6381" / "ASK 3999 127.0.0.1:6381"; an empty host is the node asked.
std::optional<Redirect> parse_redirect(const redisReply* reply, const std::string& asked_host) {
  const auto code = error_code(reply);
  if (code != "MOVED" && code != "ASK") {
    return std::nullopt;
  }
  const std::string_view t = text(reply);
  const auto sp1 = t.find(' ');
  const auto sp2 = t.find(' ', sp1 + 1);
  if (sp1 == std::string_view::npos || sp2 == std::string_view::npos) {
    return std::nullopt;
  }
  const auto slot_text = t.substr(sp1 + 1, sp2 - sp1 - 1);
  const auto addr = t.substr(sp2 + 1);
  const auto colon = addr.rfind(':');
  if (colon == std::string_view::npos) {
    return std::nullopt;
  }
  Redirect r;
  r.ask = code == "ASK";
  unsigned port = 0;
  const auto port_text = addr.substr(colon + 1);
  if (std::from_chars(slot_text.data(), slot_text.data() + slot_text.size(), r.slot).ec !=
          std::errc{} ||
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port).ec !=
          std::errc{} ||
      port == 0 || port > 65535) {
    return std::nullopt;
  }
  r.port = static_cast<std::uint16_t>(port);
  r.host = colon == 0 ? asked_host : std::string(addr.substr(0, colon));
  return r;
}

std::optional<std::uint16_t> to_port(const redisReply* reply) {
  std::int64_t v = 0;
  if (auto i = integer(reply)) {
    v = *i;
  } else if (is_string(reply)) {
    const auto t = text(reply);
    if (std::from_chars(t.data(), t.data() + t.size(), v).ec != std::errc{}) {
      return std::nullopt;
    }
  } else {
    return std::nullopt;
  }
  if (v <= 0 || v > 65535) {
    return std::nullopt;
  }
  return static_cast<std::uint16_t>(v);
}

std::string node_name(const std::string& host, std::uint16_t port) {
  return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
         std::to_string(port);
}

// A data node (master, replica, cluster node) of a multi-node URL: its credentials and db.
RedisEndpoint data_node(const RedisEndpoint& spec, std::string host, std::uint16_t port) {
  RedisEndpoint n;
  n.host = std::move(host);
  n.port = port;
  n.user = spec.user;
  n.password = spec.password;
  n.db = spec.db;
  return n;
}

}  // namespace

void Connection::ContextDeleter::operator()(redisContext* ctx) const {
  redisFree(ctx);
}

Connection::Connection(redisContext* ctx, std::string endpoint,
                       std::chrono::milliseconds command_timeout)
    : ctx_(ctx), endpoint_(std::move(endpoint)), command_timeout_(command_timeout) {}

Connection::Connection(Connection&&) noexcept = default;
Connection& Connection::operator=(Connection&&) noexcept = default;
Connection::~Connection() = default;

bool Connection::broken() const {
  return ctx_ == nullptr || ctx_->err != 0;
}

Error Connection::io_error(std::string_view what) const {
  const bool has = ctx_ != nullptr && ctx_->err != 0;
  const std::string detail = has ? ctx_->errstr : "connection lost";
  const ErrorKind kind = has ? kind_of(ctx_.get()) : ErrorKind::closed;
  return make_error(kind, "redis", fmt::format("{} at {}: {}", what, endpoint_, detail));
}

Result<void> Connection::set_timeout(std::chrono::milliseconds timeout) {
  if (timeout == current_timeout_) {
    return {};
  }
  if (redisSetTimeout(ctx_.get(), to_timeval(timeout)) != REDIS_OK) {
    return io_error("setting the socket timeout");
  }
  current_timeout_ = timeout;
  return {};
}

int Connection::key_slot(std::string_view key) {
  // The cluster spec's hash tag: the part between the first { and the next }, if not empty.
  if (const auto open = key.find('{'); open != std::string_view::npos) {
    const auto close = key.find('}', open + 1);
    if (close != std::string_view::npos && close > open + 1) {
      key = key.substr(open + 1, close - open - 1);
    }
  }
  // CRC16-CCITT (XModem: polynomial 0x1021, initial 0), as the cluster spec defines the slot;
  // bitwise rather than by table: it runs once per connection, not per command.
  std::uint16_t crc = 0;
  for (const char c : key) {
    crc = static_cast<std::uint16_t>(crc ^ (static_cast<std::uint8_t>(c) << 8));
    for (int bit = 0; bit < 8; ++bit) {
      crc = (crc & 0x8000U) != 0 ? static_cast<std::uint16_t>((crc << 1) ^ 0x1021U)
                                 : static_cast<std::uint16_t>(crc << 1);
    }
  }
  return crc % 16384;
}

Result<Connection> Connection::open(const RedisEndpoint& endpoint,
                                    std::chrono::milliseconds connect_timeout,
                                    std::chrono::milliseconds command_timeout,
                                    std::string_view slot_key) {
  switch (endpoint.topology) {
    case RedisEndpoint::Topology::sentinel:
      return open_sentinel(endpoint, connect_timeout, command_timeout);
    case RedisEndpoint::Topology::cluster:
      return open_cluster(endpoint, connect_timeout, command_timeout, slot_key);
    case RedisEndpoint::Topology::single:
      break;
  }
  return open_node(endpoint, connect_timeout, command_timeout);
}

Result<Connection> Connection::open_sentinel(const RedisEndpoint& endpoint,
                                             std::chrono::milliseconds connect_timeout,
                                             std::chrono::milliseconds command_timeout) {
  std::string why;
  const auto pass = [&](const std::string& reason) { why += (why.empty() ? "" : "; ") + reason; };
  for (const auto& sentinel : endpoint.nodes) {
    const std::string name = node_name(sentinel.host, sentinel.port);
    RedisEndpoint s;
    s.host = sentinel.host;
    s.port = sentinel.port;
    auto sc = open_node(s, connect_timeout, connect_timeout);
    if (!sc) {
      pass(fmt::format("sentinel {}: {}", name, sc.error().reason));
      continue;
    }
    auto addr = sc->command({"SENTINEL", "get-master-addr-by-name", endpoint.master_name});
    if (!addr) {
      pass(fmt::format("sentinel {}: {}", name, addr.error().reason));
      continue;
    }
    const auto parts = elements(addr->get());
    const auto port = parts.size() == 2 && is_string(parts[0]) ? to_port(parts[1]) : std::nullopt;
    if (!port) {
      pass(is_nil(addr->get())
               ? fmt::format("sentinel {} does not know master '{}'", name, endpoint.master_name)
               : fmt::format("sentinel {}: unexpected reply to "
                             "get-master-addr-by-name: {}",
                             name, text(addr->get())));
      continue;
    }
    const RedisEndpoint master = data_node(endpoint, std::string(text(parts[0])), *port);
    auto mc = open_node(master, connect_timeout, command_timeout);
    if (!mc) {
      pass(fmt::format("master {} named by sentinel {}: {}", node_name(master.host, master.port),
                       name, mc.error().reason));
      continue;
    }
    // A sentinel's answer can be stale for a moment around a failover: the server itself says
    // what it is.
    auto role = mc->command({"ROLE"});
    if (!role) {
      pass(role.error().reason);
      continue;
    }
    const auto r = elements(role->get());
    if (r.empty() || text(r[0]) != "master") {
      pass(fmt::format("{} named by sentinel {} is not master (ROLE {})",
                       node_name(master.host, master.port), name,
                       r.empty() ? std::string_view("?") : text(r[0])));
      continue;
    }
    mc->spec_ = endpoint;
    mc->endpoint_ = master.redacted() + " (master '" + endpoint.master_name + "' of sentinels " +
                    endpoint.redacted() + ")";
    return std::move(*mc);
  }
  return make_error(
      ErrorKind::io, "redis",
      fmt::format("no sentinel of {} named a reachable master: {}", endpoint.redacted(), why));
}

Result<Connection> Connection::open_cluster(const RedisEndpoint& endpoint,
                                            std::chrono::milliseconds connect_timeout,
                                            std::chrono::milliseconds command_timeout,
                                            std::string_view slot_key) {
  std::string why;
  const auto pass = [&](const std::string& reason) { why += (why.empty() ? "" : "; ") + reason; };
  const int slot = slot_key.empty() ? -1 : key_slot(slot_key);
  const auto finish = [&](Connection c, const RedisEndpoint& node) {
    // open_node set the node's own fields; these are the topology's.
    c.spec_ = endpoint;
    c.home_slot_ = slot;
    c.endpoint_ = node.redacted() +
                  (slot < 0 ? std::string(" (cluster ") : fmt::format(" (slot {} of ", slot)) +
                  endpoint.redacted() + ")";
    return c;
  };
  for (const auto& seed : endpoint.nodes) {
    const RedisEndpoint node = data_node(endpoint, seed.host, seed.port);
    auto sc = open_node(node, connect_timeout, command_timeout);
    if (!sc) {
      pass(fmt::format("seed {}: {}", node_name(seed.host, seed.port), sc.error().reason));
      continue;
    }
    if (slot < 0) {
      return finish(std::move(*sc), node);
    }
    auto slots = sc->command({"CLUSTER", "SLOTS"});
    if (!slots || is_error(slots->get())) {
      pass(fmt::format("seed {}: CLUSTER SLOTS: {}", node_name(seed.host, seed.port),
                       slots ? text(slots->get()) : std::string_view(slots.error().reason)));
      continue;
    }
    std::optional<RedisEndpoint> owner;
    for (const redisReply* range : elements(slots->get())) {
      const auto f = elements(range);
      if (f.size() < 3 || !integer(f[0]) || !integer(f[1]) || *integer(f[0]) > slot ||
          *integer(f[1]) < slot) {
        continue;
      }
      const auto master = elements(f[2]);
      const auto port = master.size() >= 2 ? to_port(master[1]) : std::nullopt;
      if (!port) {
        continue;
      }
      std::string host(text(master[0]));
      // An empty or "?" address is the node that answered (the spec's "unknown endpoint").
      if (host.empty() || host == "?") {
        host = seed.host;
      }
      owner = data_node(endpoint, std::move(host), *port);
    }
    if (!owner) {
      pass(fmt::format("seed {}: no master serves slot {} (failover in progress?)",
                       node_name(seed.host, seed.port), slot));
      continue;
    }
    if (owner->host == seed.host && owner->port == seed.port) {
      return finish(std::move(*sc), node);
    }
    auto oc = open_node(*owner, connect_timeout, command_timeout);
    if (!oc) {
      pass(fmt::format("owner {} of slot {}: {}", node_name(owner->host, owner->port), slot,
                       oc.error().reason));
      continue;
    }
    return finish(std::move(*oc), *owner);
  }
  return make_error(ErrorKind::io, "redis",
                    fmt::format("no seed of {} led to the master of slot {}: {}",
                                endpoint.redacted(), slot, why));
}

Result<Connection> Connection::open_node(const RedisEndpoint& endpoint,
                                         std::chrono::milliseconds connect_timeout,
                                         std::chrono::milliseconds command_timeout) {
  const auto tv = to_timeval(connect_timeout);
  const bool unix_socket = endpoint.transport == RedisEndpoint::Transport::unix_socket;
  redisContext* ctx = unix_socket
                          ? redisConnectUnixWithTimeout(endpoint.socket_path.c_str(), tv)
                          : redisConnectWithTimeout(endpoint.host.c_str(), endpoint.port, tv);
  if (ctx == nullptr) {
    return make_error(ErrorKind::io, "redis", "out of memory creating a connection");
  }
  Connection conn(ctx, endpoint.redacted(), command_timeout);
  conn.spec_ = endpoint;
  conn.node_host_ = endpoint.host;
  conn.node_port_ = endpoint.port;
  conn.connect_timeout_ = connect_timeout;
  if (ctx->err != 0) {
    return conn.io_error("connecting");
  }
  if (!unix_socket) {
    // A peer that vanished without a RST is noticed by the kernel too, not only by our timeouts.
    (void)redisEnableKeepAlive(ctx);
  }
  // The handshake shares the connect deadline.
  if (auto r = conn.set_timeout(connect_timeout); !r) {
    return r.error();
  }
  auto check = [](Result<ReplyPtr> reply, std::string_view what) -> Result<void> {
    if (!reply) {
      return reply.error();
    }
    if (is_error(reply->get())) {
      // Redis's text for AUTH failures ("WRONGPASS ...") does not contain the password.
      return server_error(what, reply->get());
    }
    return {};
  };
  if (!endpoint.password.empty()) {
    auto r = endpoint.user.empty() ? conn.command({"AUTH", endpoint.password})
                                   : conn.command({"AUTH", endpoint.user, endpoint.password});
    if (auto c = check(std::move(r), fmt::format("AUTH at {}", conn.endpoint_)); !c) {
      return c.error();
    }
  }
  if (endpoint.db != 0) {
    const auto db = std::to_string(endpoint.db);
    if (auto c = check(conn.command({"SELECT", db}), fmt::format("SELECT at {}", conn.endpoint_));
        !c) {
      return c.error();
    }
  }
  if (auto r = conn.set_timeout(command_timeout); !r) {
    return r.error();
  }
  return conn;
}

Result<void> Connection::append(std::size_t argc, const char** argv, const std::size_t* lens) {
  if (redisAppendCommandArgv(ctx_.get(), static_cast<int>(argc), argv, lens) != REDIS_OK) {
    return io_error("sending");
  }
  return {};
}

Result<std::vector<ReplyPtr>> Connection::read_replies(std::size_t n) {
  std::vector<ReplyPtr> replies;
  replies.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    void* raw = nullptr;
    if (redisGetReply(ctx_.get(), &raw) != REDIS_OK || raw == nullptr) {
      return io_error(n == 1 ? "waiting for a reply" : "waiting for pipeline replies");
    }
    replies.emplace_back(static_cast<redisReply*>(raw));
  }
  return replies;
}

Result<std::vector<ReplyPtr>> Connection::exchange(std::span<const Argv> commands,
                                                   std::chrono::milliseconds timeout) {
  if (broken()) {
    return io_error(commands.size() == 1 ? "command on a broken connection"
                                         : "pipeline on a broken connection");
  }
  if (auto r = set_timeout(timeout); !r) {
    return r.error();
  }
  std::vector<const char*> args;
  std::vector<std::size_t> lens;
  for (const auto& cmd : commands) {
    args.clear();
    lens.clear();
    for (const auto a : cmd) {
      args.push_back(a.data());
      lens.push_back(a.size());
    }
    if (auto a = append(args.size(), args.data(), lens.data()); !a) {
      return a.error();
    }
  }
  return read_replies(commands.size());
}

Result<void> Connection::follow_redirects(std::span<const Argv> commands,
                                          std::vector<ReplyPtr>& replies,
                                          std::chrono::milliseconds timeout) {
  // A slot moving twice in a row (resharding during a failover) is followed; a loop is not.
  constexpr int kMaxHops = 5;
  for (int hop = 0; hop < kMaxHops; ++hop) {
    std::optional<Redirect> target;
    std::vector<std::size_t> which;
    for (std::size_t i = 0; i < replies.size(); ++i) {
      auto r = parse_redirect(replies[i].get(), node_host_);
      if (r && (!target || *r == *target)) {
        target = std::move(r);
        which.push_back(i);
      }
    }
    if (!target) {
      return {};
    }
    ++redirects_;
    std::vector<Argv> again;
    for (const auto i : which) {
      if (target->ask) {
        again.push_back({"ASKING"});
      }
      again.push_back(commands[i]);
    }
    const RedisEndpoint node = data_node(spec_, target->host, target->port);
    Result<std::vector<ReplyPtr>> got = std::vector<ReplyPtr>{};
    if (!target->ask && target->slot == home_slot_) {
      // The slot this connection serves has a new master: move there for good.
      auto moved = open_node(node, connect_timeout_, command_timeout_);
      if (!moved) {
        ctx_.reset();
        return moved.error();
      }
      ctx_ = std::move(moved->ctx_);
      current_timeout_ = moved->current_timeout_;
      node_host_ = node.host;
      node_port_ = node.port;
      const auto via = endpoint_.find(" (");
      endpoint_ = node.redacted() + (via == std::string::npos ? "" : endpoint_.substr(via));
      got = exchange(again, timeout);
    } else {
      auto other = open_node(node, connect_timeout_, command_timeout_);
      if (!other) {
        return other.error();
      }
      got = other->exchange(again, timeout);
    }
    if (!got) {
      return got.error();
    }
    const std::size_t step = target->ask ? 2 : 1;
    for (std::size_t k = 0; k < which.size(); ++k) {
      replies[which[k]] = std::move((*got)[k * step + step - 1]);
    }
  }
  return {};
}

Result<std::vector<ReplyPtr>> Connection::run(std::span<const Argv> commands,
                                              std::chrono::milliseconds timeout) {
  auto replies = exchange(commands, timeout);
  if (!replies || spec_.topology == RedisEndpoint::Topology::single) {
    return replies;
  }
  if (spec_.topology == RedisEndpoint::Topology::cluster) {
    if (auto f = follow_redirects(commands, *replies, timeout); !f) {
      return f.error();
    }
  }
  for (const auto& reply : *replies) {
    if (is_failover_reply(reply.get())) {
      const std::string why(text(reply.get()));
      ctx_.reset();
      return make_error(ErrorKind::io, "redis",
                        fmt::format("{} is not a usable master ({}): ask again", endpoint_, why),
                        std::string(error_code(reply.get())));
    }
  }
  return replies;
}

Result<ReplyPtr> Connection::command(std::span<const std::string_view> argv,
                                     std::optional<std::chrono::milliseconds> timeout) {
  const Argv one(argv.begin(), argv.end());
  auto replies = run(std::span<const Argv>(&one, 1), timeout.value_or(command_timeout_));
  if (!replies) {
    return replies.error();
  }
  return std::move(replies->front());
}

Result<ReplyPtr> Connection::command(std::span<const std::string> argv,
                                     std::optional<std::chrono::milliseconds> timeout) {
  const Argv views(argv.begin(), argv.end());
  return command(std::span<const std::string_view>(views), timeout);
}

Result<ReplyPtr> Connection::command(std::initializer_list<std::string_view> argv) {
  return command(std::span<const std::string_view>(argv.begin(), argv.size()));
}

Result<std::vector<ReplyPtr>> Connection::pipeline(std::span<const Argv> commands) {
  return run(commands, command_timeout_);
}

Result<std::vector<ReplyPtr>> Connection::pipeline(
    std::span<const std::vector<std::string>> commands) {
  std::vector<Argv> views;
  views.reserve(commands.size());
  for (const auto& cmd : commands) {
    views.emplace_back(cmd.begin(), cmd.end());
  }
  return pipeline(std::span<const Argv>(views));
}

}  // namespace galaxy::redis
