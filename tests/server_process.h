#pragma once
// A server process for a test: started on a free loopback port (fork + execv, its output sent
// to /dev/null), waited for until GET /health answers 200 (at most 30 s), stopped with SIGTERM
// and waited for when the object goes. Header-only: tests that drive servers include it.
#include <httplib.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace flops::test {

inline int free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, (sockaddr*)&a, sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, (sockaddr*)&a, &len);
  close(fd);
  return ntohs(a.sin_port);
}

struct ServerProcess {
  pid_t pid = -1;
  int port = free_port();
  bool ready = false;
  // argv: the program and its arguments; "--port N" is appended.
  explicit ServerProcess(std::vector<std::string> argv) {
    argv.push_back("--port");
    argv.push_back(std::to_string(port));
    pid = fork();
    if (pid == 0) {
      int null = open("/dev/null", O_WRONLY);
      dup2(null, 1);
      dup2(null, 2);
      std::vector<char*> a;
      for (auto& s : argv) a.push_back(s.data());
      a.push_back(nullptr);
      execv(a[0], a.data());
      _exit(127);
    }
    httplib::Client c("127.0.0.1", port);
    c.set_connection_timeout(1);
    for (int i = 0; i < 300 && !ready; i++) {
      auto r = c.Get("/health");
      ready = r && r->status == 200;
      if (!ready) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  ~ServerProcess() {
    if (pid > 0) {
      kill(pid, SIGTERM);
      waitpid(pid, nullptr, 0);
    }
  }
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;
  std::string base() const { return "http://127.0.0.1:" + std::to_string(port) + "/v1"; }
};

}  // namespace flops::test
