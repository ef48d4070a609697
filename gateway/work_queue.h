// A fixed set of threads running queued jobs in order of arrival. The HTTP front end hands every
// ACME POST to one so that libmicrohttpd's few polling threads never wait for a durable commit or
// for the signing engine (finalize): a waiting request no longer stalls the other connections that
// libmicrohttpd pinned to the same thread.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace ca::gateway {

class WorkQueue {
 public:
  using Job = std::function<void()>;  // must not throw (see Submit)

  explicit WorkQueue(size_t threads);
  ~WorkQueue();  // Stop()
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  // False (job not taken) once Stop() has begun. An exception escaping a job is caught and
  // logged: it never reaches the worker thread.
  bool Submit(Job job);
  // Refuses new jobs, runs every job already queued, joins the threads. Idempotent.
  void Stop();

 private:
  void Loop();
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace ca::gateway
