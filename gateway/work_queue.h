// The gateway's one pool of worker threads: jobs run in order of arrival, or not before a delay.
// Two instances serve two jobs (see AcmeServer and HttpServer):
//  - ACME POSTs: the HTTP front end hands every POST to one so that libmicrohttpd's few polling
//    threads never wait for a durable commit or for the signing engine (finalize): a waiting
//    request no longer stalls the other connections libmicrohttpd pinned to the same thread.
//  - challenge validation: blocking network checks, retried after a delay while unavailable.
// Separate instances so that slow validations never hold up requests.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

namespace ca::gateway {

class WorkQueue {
 public:
  using Job = std::function<void()>;  // must not throw (see Submit)
  using Clock = std::chrono::steady_clock;

  explicit WorkQueue(size_t threads);
  ~WorkQueue();  // Stop()
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  // False (job not taken) once Stop() has begun. An exception escaping a job is caught and
  // logged: it never reaches the worker thread.
  bool Submit(Job job) { return SubmitAfter(Clock::duration::zero(), std::move(job)); }
  // Runs `job` no earlier than `delay` from now (jobs due at the same time keep their order).
  bool SubmitAfter(Clock::duration delay, Job job);
  // Returns once nothing is queued or running (tests).
  void WaitIdle();
  // Refuses new jobs, runs every job already due (suspended connections wait for them), drops
  // delayed jobs not yet due, joins the threads. Idempotent.
  void Stop();

 private:
  void Loop();
  std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable idle_cv_;
  std::multimap<Clock::time_point, Job> queue_;  // by due time
  size_t running_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace ca::gateway
