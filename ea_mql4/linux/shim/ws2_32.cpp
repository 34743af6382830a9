// ws2_32.cpp -- the ws2_32.dll functions WsTransport.mqh imports, mapped onto
// POSIX sockets so the EA's WebSocket transport runs unchanged on Linux.
// (The pre-pass puts `#import "ws2_32.dll"` declarations in namespace
// mql_import_ws2_32; these are their definitions.)
#include "mql4_shim.h"

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <string>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {
int g_wsa_error = 0;
int wsa_error_from_errno() {
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINPROGRESS) return 10035;  // WSAEWOULDBLOCK
  if (errno == ECONNREFUSED) return 10061;
  if (errno == ECONNRESET) return 10054;
  return 10000 + errno;
}
}  // namespace

void mql_crash_point(const std::string &point);  // terminal.cpp

namespace mql_import_ws2_32 {

int WSAStartup(ushort, MqlArray<uchar> &data) {
  if (data.items().size() < 4) data.items().resize(4);
  return 0;
}
int WSAGetLastError(void) { return g_wsa_error; }
int socket(int af, int type, int protocol) {
  (void)af;
  (void)type;
  (void)protocol;
  int fd = ::socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
  if (fd < 0) g_wsa_error = wsa_error_from_errno();
  return fd;
}
int connect(int s, MqlArray<uchar> &name, int namelen) {
  if (namelen < 8 || name.items().size() < 8) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;  // bytes 0..1: AF_INET little-endian (Windows layout)
  std::memcpy(&addr.sin_port, name.items().data() + 2, 2);  // network order already
  std::memcpy(&addr.sin_addr, name.items().data() + 4, 4);
  int rc = ::connect(s, reinterpret_cast<sockaddr *>(&addr), sizeof addr);
  if (rc != 0) g_wsa_error = wsa_error_from_errno();
  return rc;
}
// the text of one whole (client-masked) WebSocket frame, "" otherwise
static std::string frame_text(const unsigned char *p, size_t n) {
  if (n < 2) return "";
  size_t len = p[1] & 0x7f, pos = 2;
  if (len == 126) {
    if (n < 4) return "";
    len = (size_t)(p[2] << 8 | p[3]);
    pos = 4;
  } else if (len == 127) {
    if (n < 10) return "";
    len = 0;
    for (size_t i = 0; i < 8; i++) len = len << 8 | p[2 + i];
    pos = 10;
  }
  unsigned char key[4] = {0, 0, 0, 0};
  if (p[1] & 0x80) {
    if (n < pos + 4) return "";
    std::memcpy(key, p + pos, 4);
    pos += 4;
  }
  if (n < pos + len) return "";
  std::string text(len, '\0');
  for (size_t i = 0; i < len; i++) text[i] = (char)(p[pos + i] ^ key[i % 4]);
  return text;
}

int send(int s, MqlArray<uchar> &buf, int len, int flags) {
  (void)flags;
  int n = (int)::send(s, buf.items().data(), (size_t)len, MSG_NOSIGNAL);
  if (n < 0) g_wsa_error = wsa_error_from_errno();
  if (n == len) {
    // crash point "send:<type>": a frame carrying that envelope was written
    // (it may reach the server), before any Receipt could come back
    std::string text = frame_text(buf.items().data(), (size_t)len);
    for (const char *type : {"OrderIntent", "ExecutionReport"})
      if (text.find(std::string("\"type\":\"") + type + "\"") != std::string::npos)
        mql_crash_point(std::string("send:") + type);
  }
  return n;
}
int recv(int s, MqlArray<uchar> &buf, int len, int flags) {
  (void)flags;
  if ((int)buf.items().size() < len) buf.items().resize((size_t)len);
  int n = (int)::recv(s, buf.items().data(), (size_t)len, 0);
  if (n < 0) g_wsa_error = wsa_error_from_errno();
  return n;
}
int closesocket(int s) { return ::close(s); }
int ioctlsocket(int s, int cmd, uint &argp) {
  if (cmd != (int)0x8004667E) return -1;  // FIONBIO only
  int fl = fcntl(s, F_GETFL, 0);
  return fcntl(s, F_SETFL, argp ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK)) == 0 ? 0 : -1;
}

// Windows layout: fd_set = {u_int fd_count; SOCKET fd_array[]}, timeval = {tv_sec, tv_usec}.
// Only what the EA uses: sockets waiting for a connect (writefds/exceptfds).
int select(int, MqlArray<int> &readfds, MqlArray<int> &writefds, MqlArray<int> &exceptfds,
           MqlArray<int> &timeout) {
  std::vector<pollfd> fds;
  auto &w = writefds.items();
  for (int i = 0; i < (w.empty() ? 0 : w[0]); i++) fds.push_back({w[(size_t)i + 1], POLLOUT, 0});
  auto &t = timeout.items();
  int ms = t.size() >= 2 ? t[0] * 1000 + t[1] / 1000 : -1;
  int n = ::poll(fds.data(), fds.size(), ms);
  if (!readfds.items().empty()) readfds.items()[0] = 0;
  if (!exceptfds.items().empty()) exceptfds.items()[0] = 0;
  if (n <= 0) {
    if (!w.empty()) w[0] = 0;
    if (n < 0) g_wsa_error = wsa_error_from_errno();
    return n;
  }
  int writable = 0, failed = 0;
  for (const pollfd &p : fds) {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(p.fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0 || (p.revents & (POLLERR | POLLHUP))) {
      exceptfds.items().resize(2 + (size_t)failed);
      exceptfds.items()[1 + (size_t)failed++] = p.fd;
      g_wsa_error = err == ECONNREFUSED ? 10061 : 10000 + err;
    } else if (p.revents & POLLOUT) {
      w[1 + (size_t)writable++] = p.fd;
    }
  }
  w[0] = writable;
  if (!exceptfds.items().empty()) exceptfds.items()[0] = failed;
  return writable + failed;
}

}  // namespace mql_import_ws2_32
