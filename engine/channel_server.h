// The engine's side of the channel (CA-3): listens on a Unix socket (mode 0660, group of the
// gateway), checks each peer's uid (SO_PEERCRED) against an allow-list, runs mutual TLS 1.3 with
// pinned client certificates, and reads size-limited frames. Only a well-formed, authenticated
// request reaches the handler; every refusal is logged with its reason.
// In a pair (issue 20) it may also listen on TCP (`peer_listen`) for the peer node's gateway:
// there is no SO_PEERCRED on TCP, so mutual TLS with its own list of pinned client certificates is
// the whole authentication; frame limits, timeouts and counters are the same.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/result.h"
#include "engine/api/channel.h"
#include "engine/api/contract.h"

namespace ca::engine {

struct ChannelServerOptions {
  std::string socket_path;
  std::optional<gid_t> socket_group;      // chgrp of the socket (the gateway's group)
  std::vector<uid_t> allowed_uids;        // SO_PEERCRED allow-list; empty refuses everyone
  engine::api::ChannelIdentity identity;  // engine cert/key, pinned client certificates
  // Optional TCP listener: "host:port" (port 0: any free port, see tcp_port()) and the client
  // certificates pinned on it (never the Unix socket's list: a local client certificate copied off
  // the box must not open the network port).
  std::string tcp_listen;
  std::vector<std::string> tcp_client_fingerprints;
  size_t max_frame_size = engine::api::kMaxFrameSize;
  size_t max_connections = 64;
  // Of those, at most this many over TCP: connections from the network (even unauthenticated ones,
  // during their handshake timeout) never take the local gateway's slots.
  size_t max_tcp_connections = 16;
  int handshake_timeout_ms = 10000;
};

struct PeerInfo {
  pid_t pid = 0;
  uid_t uid = 0;  // (uid_t)-1 for a TCP peer
  std::string cert_fingerprint;
  std::string address;  // TCP peers: "host:port"; "" on the Unix socket
};

using RequestHandler =
    std::function<engine::api::Response(const engine::api::Request&, const PeerInfo&)>;

class ChannelServer {
 public:
  // Binds the socket (replacing a stale socket file, refusing any other file) and starts the
  // accept thread.
  static Result<std::unique_ptr<ChannelServer>> Start(ChannelServerOptions options,
                                                      RequestHandler handler);
  ~ChannelServer();  // Stop()

  // Stops accepting, closes live connections, joins threads, removes the socket file.
  void Stop();

  // The bound TCP port (0 without a TCP listener).
  uint16_t tcp_port() const { return tcp_port_; }

  // Refusals counted by reason, for tests and metrics.
  struct Counters {
    std::atomic<uint64_t> wrong_uid{0}, handshake_failed{0}, oversized{0}, malformed{0},
        accepted{0},
        tcp_accepted{0},  // of `accepted`, over TCP
        too_many{0};      // refused beyond max_connections / max_tcp_connections
  };
  const Counters& counters() const { return counters_; }

 private:
  ChannelServer(ChannelServerOptions options, RequestHandler handler)
      : options_(std::move(options)), handler_(std::move(handler)) {}
  Status ListenTcp();
  void AcceptLoop();
  // Registers the connection (or refuses it beyond max_connections) and serves it on a thread.
  void Admit(int fd, PeerInfo peer, SSL_CTX* ctx);
  void Serve(int fd, PeerInfo peer, SSL_CTX* ctx);

  ChannelServerOptions options_;
  RequestHandler handler_;
  engine::api::SslCtxPtr ctx_;
  engine::api::SslCtxPtr tcp_ctx_;  // pins tcp_client_fingerprints
  int listen_fd_ = -1;
  int tcp_fd_ = -1;
  uint16_t tcp_port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread accept_thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::set<int> live_fds_;  // connections being served (threads are detached; Stop waits for them)
  size_t live_tcp_ = 0;     // of live_fds_, over TCP
  Counters counters_;
};

}  // namespace ca::engine
