// A persistent thread pool for kernels that split their work by (ith, nth).
//
// run(fn) calls fn(ith, nth) once on each of nth threads, the caller being ith = 0, and returns when all have
// returned. Inside fn, barrier() waits for every thread of the run (a spin barrier on one cache line, no OpenMP, no
// syscalls). Between runs the workers spin for spin_us microseconds, then sleep on a condition variable, so an idle
// pool costs nothing and back-to-back runs (one per token) start without a wake-up syscall.
//
// One run at a time: run() is serialised by a mutex. fn must not throw once any thread may be waiting in barrier();
// an exception thrown by fn is caught and rethrown by run() in the caller after every thread has finished.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

namespace lc {

class ThreadPool {
   public:
    using TaskFn = void (*)(void* ctx, int ith, int nth);

    // n_threads <= 0: physical_core_count(). spin_us: how long idle workers poll before sleeping.
    explicit ThreadPool(int n_threads = 0, int spin_us = 1000);
    ~ThreadPool();
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    int n_threads() const { return n_threads_; }

    // fn(ctx, ith, nth) on nth = min(n_threads(), max(1, nth_max)) threads (nth_max <= 0: all of them).
    void run(TaskFn fn, void* ctx, int nth_max = 0);

    // Any callable f(int ith, int nth).
    template <class F>
    void run(F&& f, int nth_max = 0) {
        using Fn = std::remove_reference_t<F>;
        run([](void* c, int ith, int nth) { (*static_cast<Fn*>(c))(ith, nth); },
            const_cast<void*>(static_cast<const void*>(&f)), nth_max);
    }

    // Inside a run: wait until all nth threads of the run have arrived. Outside a run: returns at once.
    void barrier();

   private:
    void worker_main(int ith);
    void execute(int ith);

    int n_threads_;
    int spin_us_;
    std::vector<std::thread> workers_;

    // The current task; written by the caller before it bumps generation_.
    TaskFn fn_ = nullptr;
    void* ctx_ = nullptr;
    int nth_ = 1;

    alignas(64) std::atomic<uint64_t> generation_{0};  // bumped once per run
    alignas(64) std::atomic<int> n_done_{0};           // workers finished with the current run
    alignas(64) std::atomic<int> barrier_count_{0};
    alignas(64) std::atomic<uint32_t> barrier_passed_{0};
    alignas(64) std::atomic<int> sleepers_{0};
    std::atomic<bool> stop_{false};

    std::mutex sleep_mutex_;
    std::condition_variable sleep_cv_;
    std::mutex run_mutex_;
    std::mutex error_mutex_;
    std::exception_ptr error_;
};

}  // namespace lc
