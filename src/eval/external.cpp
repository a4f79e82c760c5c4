// External evaluators (external.hpp): fork/exec of the user's command with three pipes, a poll() loop that
// writes the batch and reads the answers concurrently under one deadline, and a failure path that always
// ends with the process (and its process group) killed and reaped.
//
// SIGPIPE: the parent never changes the process-wide disposition. Writes to the child's stdin run with
// SIGPIPE blocked in the calling thread (a pipe's SIGPIPE goes to the writing thread); when a write fails
// with EPIPE the signal it raised is consumed with sigtimedwait before the old mask is restored, unless one
// was already pending before, so nothing of ours leaks to the rest of the program.
#include "eval/external.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/error.hpp"

namespace srl::eval {

namespace {

using Clock = std::chrono::steady_clock;

constexpr double kTermGraceS = 1.0;       // SIGTERM -> SIGKILL
constexpr double kExitWaitS = 1.0;        // after closing stdin (destructor) or EOF on stdout: time to exit
constexpr size_t kMaxLineBytes = 1 << 20; // an answer line longer than this is garbage
constexpr size_t kStderrTail = 4096;      // bytes of stderr kept for the failure message
constexpr size_t kExcerpt = 80;           // bytes of offending output quoted in a failure message

// Printable ASCII only (so a failure line is one line of valid UTF-8 whatever the child printed), cut to n.
std::string excerpt(const std::string& s, size_t n = kExcerpt) {
  std::string o;
  for (size_t i = 0; i < s.size() && o.size() < n; ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    o += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '?';
  }
  if (s.size() > n) o += "...";
  return o;
}

std::string signal_name(int sig) {
  const char* d = sigdescr_np(sig);
  const char* a = sigabbrev_np(sig);
  std::string out = std::to_string(sig);
  if (a) out += std::string(" (SIG") + a + (d ? std::string(", ") + d : "") + ")";
  return out;
}

std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "was killed by signal " + signal_name(WTERMSIG(status));
  return "ended (wait status " + std::to_string(status) + ")";
}

// command[0] as execv wants it: a path containing '/' as given, otherwise the first executable on $PATH.
bool resolve_command(const std::string& cmd, std::string* path) {
  if (cmd.find('/') != std::string::npos) {
    *path = cmd;
    return true;
  }
  const char* env = std::getenv("PATH");
  std::string dirs = env && *env ? env : "/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    std::string dir = dirs.substr(start, end - start);
    std::string cand = (dir.empty() ? "." : dir) + "/" + cmd;
    struct stat st;
    if (::stat(cand.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(cand.c_str(), X_OK) == 0) {
      *path = cand;
      return true;
    }
    start = end + 1;
  }
  return false;
}

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// See the file comment.
class SigpipeBlock {
 public:
  SigpipeBlock() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    sigset_t pending;
    sigemptyset(&pending);
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
  }
  ~SigpipeBlock() {
    if (raised && !was_pending_) {
      struct timespec zero {};
      while (sigtimedwait(&pipe_, nullptr, &zero) == SIGPIPE) {
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  bool raised = false;  // a write failed with EPIPE

 private:
  sigset_t pipe_, old_;
  bool was_pending_ = false;
};

nlohmann::ordered_json input_json(const EvalInput& in) {
  nlohmann::ordered_json conv = nlohmann::ordered_json::array();
  for (const auto& m : in.conversation) conv.push_back({{"role", m.role}, {"content", m.content}});
  return {{"conversation", conv}, {"response", in.response}};
}

class ExternalEvaluator : public Evaluator {
 public:
  explicit ExternalEvaluator(EvaluatorSpec spec) : spec_(std::move(spec)) {}
  ~ExternalEvaluator() override { stop(/*polite=*/true); }
  ExternalEvaluator(const ExternalEvaluator&) = delete;
  ExternalEvaluator& operator=(const ExternalEvaluator&) = delete;

  std::string name() const override { return spec_.name; }
  bool healthy() const override { return failure_.empty(); }
  std::string failure() const override { return failure_; }

  std::vector<EvalResult> evaluate(const std::vector<EvalInput>& batch) override {
    std::vector<EvalResult> results(batch.size(), EvalResult{{}, "", false});
    if (!failure_.empty() || batch.empty()) return finish(results);
    ++batch_no_;
    const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                             std::chrono::duration<double>(std::min(spec_.timeout_s, 1e8)));
    if (pid_ < 0 && !start()) return finish(results);
    if (!check_idle()) return finish(results);

    std::string input;
    for (const auto& item : batch)
      input += input_json(item).dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
    size_t written = 0, got = 0;
    while (got < batch.size()) {
      auto left_ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left_ms <= 0) {
        fail_now(fmt_timeout(got, batch.size()));
        return finish(results);
      }
      pollfd fds[3];
      int n = 0, i_out = -1, i_err = -1, i_in = -1;
      fds[n] = {out_, POLLIN, 0}, i_out = n++;
      if (err_ >= 0) fds[n] = {err_, POLLIN, 0}, i_err = n++;
      if (in_ >= 0 && written < input.size()) fds[n] = {in_, POLLOUT, 0}, i_in = n++;
      int r = ::poll(fds, n, static_cast<int>(std::min<long long>(left_ms + 1, INT_MAX)));
      if (r < 0) {
        if (errno == EINTR) continue;
        fail_now(std::string("poll failed: ") + std::strerror(errno));
        return finish(results);
      }
      if (i_in >= 0 && fds[i_in].revents) write_some(input, written);
      if (i_err >= 0 && fds[i_err].revents) read_stderr();
      if (fds[i_out].revents) {
        char buf[65536];
        ssize_t k = ::read(out_, buf, sizeof buf);
        if (k < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        if (k <= 0) {  // EOF: the process closed its output, almost always because it ended
          fail_now(ended_message(got, batch.size()));
          return finish(results);
        }
        out_buf_.append(buf, static_cast<size_t>(k));
        size_t nl;
        while (got < batch.size() && (nl = out_buf_.find('\n')) != std::string::npos) {
          std::string line = out_buf_.substr(0, nl);
          out_buf_.erase(0, nl + 1);
          ++lines_read_;
          if (!line.empty() && line.back() == '\r') line.pop_back();
          if (line.find_first_not_of(" \t") == std::string::npos) continue;  // blank lines are ignored
          std::string why;
          if (!parse_line(line, &results[got], &why)) {
            fail_now("line " + std::to_string(lines_read_) + " of its output (item " + std::to_string(got + 1) +
                     " of batch " + std::to_string(batch_no_) + ") " + why);
            return finish(results);
          }
          ++got;
        }
        if (out_buf_.size() > kMaxLineBytes) {
          fail_now("line " + std::to_string(lines_read_ + 1) + " of its output is longer than " +
                   std::to_string(kMaxLineBytes) + " bytes: '" + excerpt(out_buf_) + "'");
          return finish(results);
        }
      }
    }
    if (out_buf_.find_first_not_of(" \t\r\n") != std::string::npos) {
      // More output than items: the answers can no longer be matched to items, so none of this batch counts.
      fail_now("wrote more lines than the " + std::to_string(batch.size()) + " items of batch " +
               std::to_string(batch_no_) + ": '" + excerpt(out_buf_) + "'");
      for (auto& r : results) r.ok = false;
      return finish(results);
    }
    out_buf_.clear();
    return results;
  }

 private:
  // Results not answered get ok=false and the failure as explanation.
  std::vector<EvalResult> finish(std::vector<EvalResult>& results) {
    for (auto& r : results)
      if (!r.ok) r = EvalResult{{}, failure_.empty() ? "not evaluated" : failure_, false};
    return results;
  }

  bool start() {
    std::string path;
    if (!resolve_command(spec_.command[0], &path)) {
      failure_ = "cannot start '" + spec_.command[0] + "': command not found on PATH";
      return false;
    }
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(path.c_str()));
    for (size_t i = 1; i < spec_.command.size(); ++i) argv.push_back(const_cast<char*>(spec_.command[i].c_str()));
    argv.push_back(nullptr);

    int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1}, status[2] = {-1, -1};
    auto close_all = [&] {
      for (int* p : {in, out, err, status}) close_fd(p[0]), close_fd(p[1]);
    };
    if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC) || pipe2(status, O_CLOEXEC)) {
      failure_ = std::string("cannot start '" + spec_.command[0] + "': pipe: ") + std::strerror(errno);
      close_all();
      return false;
    }
    pid_t pid = ::fork();
    if (pid < 0) {
      failure_ = std::string("cannot start '" + spec_.command[0] + "': fork: ") + std::strerror(errno);
      close_all();
      return false;
    }
    if (pid == 0) {
      // Child: async-signal-safe calls only (the parent may have other threads).
      ::setpgid(0, 0);  // own process group, so a kill reaches whatever the command starts
      ::dup2(in[0], 0);
      ::dup2(out[1], 1);
      ::dup2(err[1], 2);
      struct sigaction dfl {};
      dfl.sa_handler = SIG_DFL;
      ::sigaction(SIGPIPE, &dfl, nullptr);
      sigset_t none;
      sigemptyset(&none);
      ::sigprocmask(SIG_SETMASK, &none, nullptr);
      ::execv(argv[0], argv.data());
      int e = errno;
      ssize_t ignored = ::write(status[1], &e, sizeof e);
      (void)ignored;
      ::_exit(127);
    }
    ::setpgid(pid, pid);  // also here, so the group exists before we could signal it (EACCES after exec: fine)
    pid_ = pid;
    close_fd(in[0]), close_fd(out[1]), close_fd(err[1]), close_fd(status[1]);
    in_ = in[1], out_ = out[0], err_ = err[0];
    int e = 0;
    ssize_t k;
    do k = ::read(status[0], &e, sizeof e); while (k < 0 && errno == EINTR);
    close_fd(status[0]);
    if (k == static_cast<ssize_t>(sizeof e)) {  // exec failed; the CLOEXEC pipe closes silently on success
      failure_ = "cannot start '" + spec_.command[0] + "': " + std::strerror(e);
      stop(false);
      return false;
    }
    for (int fd : {in_, out_, err_}) ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    spdlog::debug("evaluator '{}': started pid {}", spec_.name, pid_);
    return true;
  }

  // Between batches the process must be quiet: output now would be taken for the next batch's answers.
  bool check_idle() {
    pollfd p{out_, POLLIN, 0};
    if (::poll(&p, 1, 0) <= 0 || !p.revents) return true;
    char buf[4096];
    ssize_t k = ::read(out_, buf, sizeof buf);
    if (k < 0 && (errno == EAGAIN || errno == EINTR)) return true;
    if (k <= 0) {
      fail_now(ended_message(0, 0));
      return false;
    }
    const std::string text = excerpt(std::string(buf, static_cast<size_t>(k)));
    if (batch_no_ == 1)
      fail_now("printed output before receiving any input: '" + text + "'");
    else
      fail_now("wrote more lines than the items of batch " + std::to_string(batch_no_ - 1) + " (seen before batch " +
               std::to_string(batch_no_) + "): '" + text + "'");
    return false;
  }

  void write_some(const std::string& input, size_t& written) {
    SigpipeBlock guard;
    while (written < input.size()) {
      ssize_t k = ::write(in_, input.data() + written, input.size() - written);
      if (k > 0) {
        written += static_cast<size_t>(k);
        continue;
      }
      if (k < 0 && errno == EINTR) continue;
      if (k < 0 && errno == EAGAIN) return;
      // EPIPE (it stopped reading) or another error: stop writing and let the read side find out why.
      if (k < 0 && errno == EPIPE) guard.raised = true;
      close_fd(in_);
      return;
    }
  }

  void read_stderr() {
    char buf[4096];
    for (;;) {
      ssize_t k = ::read(err_, buf, sizeof buf);
      if (k < 0 && errno == EINTR) continue;
      if (k < 0) return;  // EAGAIN: nothing more now
      if (k == 0) {
        close_fd(err_);
        return;
      }
      err_tail_.append(buf, static_cast<size_t>(k));
      size_t nl;
      while ((nl = err_tail_.find('\n', err_scan_)) != std::string::npos) {
        spdlog::debug("evaluator '{}' stderr: {}", spec_.name, excerpt(err_tail_.substr(err_scan_, nl - err_scan_), 500));
        err_scan_ = nl + 1;
      }
      if (err_tail_.size() > 2 * kStderrTail) {
        size_t cut = err_tail_.size() - kStderrTail;
        err_tail_.erase(0, cut);
        err_scan_ = err_scan_ > cut ? err_scan_ - cut : 0;
      }
    }
  }

  // "; stderr: <last non-empty line>" or "".
  std::string stderr_hint() {
    if (err_ >= 0) {
      // The process may have written its last words just before ending; give it a moment to arrive.
      for (int i = 0; i < 20 && err_ >= 0; ++i) {
        pollfd p{err_, POLLIN, 0};
        if (::poll(&p, 1, 10) <= 0) break;
        read_stderr();
      }
    }
    std::string t = err_tail_;
    while (!t.empty() && (t.back() == '\n' || t.back() == '\r' || t.back() == ' ')) t.pop_back();
    if (t.empty()) return "";
    size_t nl = t.rfind('\n');
    return "; stderr: " + excerpt(nl == std::string::npos ? t : t.substr(nl + 1), 200);
  }

  std::string progress(size_t got, size_t n) const {
    if (n == 0) return "between batches";
    return "with " + std::to_string(got) + " of " + std::to_string(n) + " lines of batch " + std::to_string(batch_no_) +
           " answered";
  }

  std::string fmt_timeout(size_t got, size_t n) {
    char t[32];
    std::snprintf(t, sizeof t, "%g", spec_.timeout_s);
    return std::string("timed out after ") + t + " s (timeout_s) " + progress(got, n) + "; process killed" +
           stderr_hint();
  }

  // Its stdout reached EOF: wait briefly for it to end and say how.
  std::string ended_message(size_t got, size_t n) {
    std::string hint = stderr_hint();
    int status = 0;
    bool exited = wait_exit(kExitWaitS, &status);
    if (exited) return "process " + describe_status(status) + " " + progress(got, n) + hint;
    return "process closed its output " + progress(got, n) + " (still running; killed)" + hint;
  }

  // Waits up to `seconds` for the leader to end, without reaping it (its zombie keeps the process group id
  // from being reused while we signal the group). True with its status once it has ended.
  bool wait_exit(double seconds, int* status) {
    if (pid_ < 0) return false;
    auto until = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
    for (;;) {
      siginfo_t info{};
      int r = ::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) {  // ECHILD: someone else reaped it (e.g. SIGCHLD ignored)
        *status = 0;
        return true;
      }
      if (info.si_pid == pid_) {
        *status = info.si_code == CLD_EXITED ? (info.si_status & 0xff) << 8 : info.si_status & 0x7f;
        return true;
      }
      if (Clock::now() >= until) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }

  // Ends the process: polite = close stdin and give it kExitWaitS to exit; then SIGTERM to the group, after
  // kTermGraceS SIGKILL; the group is SIGKILLed before the leader is reaped so nothing it started survives.
  void stop(bool polite) {
    close_fd(in_);
    if (pid_ > 0) {
      int status = 0;
      bool ended = polite && wait_exit(kExitWaitS, &status);
      if (!ended) {
        ::kill(-pid_, SIGTERM);
        ended = wait_exit(kTermGraceS, &status);
      }
      ::kill(-pid_, SIGKILL);
      if (!ended) wait_exit(5.0, &status);  // SIGKILL cannot be ignored; bounded anyway
      int r;
      do r = ::waitpid(pid_, &status, 0); while (r < 0 && errno == EINTR);
      spdlog::debug("evaluator '{}': pid {} stopped", spec_.name, pid_);
      pid_ = -1;
    }
    close_fd(out_);
    close_fd(err_);
  }

  // Records the first failure, stops the process, and logs at debug (EvaluatorSet warns once).
  void fail_now(const std::string& why) {
    if (failure_.empty()) failure_ = why;
    spdlog::debug("evaluator '{}' failed: {}", spec_.name, why);
    stop(false);
  }

  static bool parse_line(const std::string& line, EvalResult* out, std::string* why) {
    auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) return *why = "is not JSON: '" + excerpt(line) + "'", false;
    if (!j.is_object()) return *why = "is not a JSON object: '" + excerpt(line) + "'", false;
    auto it = j.find("scores");
    if (it == j.end() || !it->is_object())
      return *why = "has no \"scores\" object: '" + excerpt(line) + "'", false;
    EvalResult r;
    for (const auto& [k, v] : it->items()) {
      if (!v.is_number()) return *why = "has a non-numeric score \"" + excerpt(k, 40) + "\": '" + excerpt(line) + "'", false;
      double x = v.get<double>();
      if (!std::isfinite(x)) return *why = "has a non-finite score \"" + excerpt(k, 40) + "\": '" + excerpt(line) + "'", false;
      r.scores[k] = x;
    }
    auto e = j.find("explanation");
    if (e != j.end() && !e->is_null()) {
      if (!e->is_string()) return *why = "has a non-string \"explanation\": '" + excerpt(line) + "'", false;
      r.explanation = e->get<std::string>();
    }
    r.ok = true;
    *out = std::move(r);
    return true;
  }

  EvaluatorSpec spec_;
  pid_t pid_ = -1;
  int in_ = -1, out_ = -1, err_ = -1;
  std::string out_buf_, err_tail_;
  size_t err_scan_ = 0;
  long lines_read_ = 0;  // over the whole run, blank ones included
  int batch_no_ = 0;
  std::string failure_;
};

}  // namespace

std::unique_ptr<Evaluator> make_external_evaluator(const EvaluatorSpec& spec) {
  const std::string who = "external evaluator '" + spec.name + "'";
  if (spec.type != "external") fail_internal("make_external_evaluator", who + " has type '" + spec.type + "'");
  if (spec.name.empty()) fail("evaluators", "an external evaluator needs a name");
  if (spec.command.empty() || spec.command[0].empty()) fail("evaluators", who + " has no command");
  if (!(spec.timeout_s > 0) || !std::isfinite(spec.timeout_s))
    fail("evaluators", who + ": timeout_s must be a positive number of seconds");
  return std::make_unique<ExternalEvaluator>(spec);
}

}  // namespace srl::eval
