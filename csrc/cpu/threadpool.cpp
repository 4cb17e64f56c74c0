#include "llamacore/threadpool.h"

#include <chrono>

#include "llamacore/cpu.h"

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
#include <immintrin.h>
#define LC_PAUSE() _mm_pause()
#elif defined(__aarch64__)
#define LC_PAUSE() __asm__ __volatile__("yield")
#else
#define LC_PAUSE() ((void)0)
#endif

namespace lc {
namespace {

// The generation word carries the run counter and the thread count of that run together, so a worker that reads
// it knows both consistently (a late worker can never pair an old generation with a newer run's thread count).
constexpr int kNthBits = 16;
inline uint64_t make_word(uint64_t gen, int nth) { return (gen << kNthBits) | static_cast<uint64_t>(nth); }
inline int word_nth(uint64_t w) { return static_cast<int>(w & ((1u << kNthBits) - 1)); }

// Spin politely: pause for a few microseconds (a barrier between two kernels normally opens within that), then
// yield the core between short spins: when the machine has more runnable threads than cores, the thread we wait
// for may be waiting for this very core, and spinning through our time slice only delays it.
struct Spinner {
    unsigned n = 0;
    void spin() {
        LC_PAUSE();
        ++n;
        if (n >= 256 && n % 32 == 0) std::this_thread::yield();
    }
};

}  // namespace

ThreadPool::ThreadPool(int n_threads, int spin_us) : spin_us_(spin_us < 0 ? 0 : spin_us) {
    if (n_threads <= 0) n_threads = physical_core_count();
    if (n_threads > 1024) n_threads = 1024;
    n_threads_ = n_threads;
    workers_.reserve(n_threads_ - 1);
    for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this, i] { worker_main(i); });
}

ThreadPool::~ThreadPool() {
    stop_.store(true);
    {
        std::lock_guard<std::mutex> lock(sleep_mutex_);
    }
    sleep_cv_.notify_all();
    for (auto& t : workers_) t.join();
}

void ThreadPool::execute(int ith) {
    try {
        fn_(ctx_, ith, nth_);
    } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex_);
        if (!error_) error_ = std::current_exception();
    }
}

void ThreadPool::run(TaskFn fn, void* ctx, int nth_max) {
    std::lock_guard<std::mutex> run_lock(run_mutex_);
    int nth = n_threads_;
    if (nth_max > 0 && nth_max < nth) nth = nth_max;
    error_ = nullptr;
    if (nth == 1) {
        nth_ = 1;
        fn_ = fn;
        ctx_ = ctx;
        execute(0);
    } else {
        fn_ = fn;
        ctx_ = ctx;
        nth_ = nth;
        n_done_.store(0, std::memory_order_relaxed);
        const uint64_t gen = (generation_.load(std::memory_order_relaxed) >> kNthBits) + 1;
        generation_.store(make_word(gen, nth), std::memory_order_seq_cst);
        if (sleepers_.load(std::memory_order_seq_cst) > 0) {
            {
                std::lock_guard<std::mutex> lock(sleep_mutex_);
            }
            sleep_cv_.notify_all();
        }
        execute(0);
        Spinner s;
        while (n_done_.load(std::memory_order_acquire) != nth - 1) s.spin();
    }
    nth_ = 1;
    if (error_) std::rethrow_exception(error_);
}

void ThreadPool::barrier() {
    const int nth = nth_;
    if (nth <= 1) return;
    const uint32_t passed = barrier_passed_.load(std::memory_order_acquire);
    if (barrier_count_.fetch_add(1, std::memory_order_seq_cst) == nth - 1) {
        barrier_count_.store(0, std::memory_order_relaxed);
        barrier_passed_.fetch_add(1, std::memory_order_seq_cst);
    } else {
        Spinner s;
        while (barrier_passed_.load(std::memory_order_acquire) == passed) s.spin();
    }
}

void ThreadPool::worker_main(int ith) {
    uint64_t seen = 0;  // the generation at construction: a run started before this thread got here still counts
    using clock = std::chrono::steady_clock;
    while (true) {
        // Poll for a new run for spin_us, then sleep until the caller wakes us.
        uint64_t w = generation_.load(std::memory_order_acquire);
        if (w == seen && !stop_.load(std::memory_order_relaxed)) {
            const auto deadline = clock::now() + std::chrono::microseconds(spin_us_);
            unsigned n = 0;
            while ((w = generation_.load(std::memory_order_acquire)) == seen &&
                   !stop_.load(std::memory_order_relaxed)) {
                LC_PAUSE();
                if (++n % 256 != 0) continue;
                std::this_thread::yield();  // polite while polling (see Spinner)
                if (clock::now() > deadline) {
                    sleepers_.fetch_add(1, std::memory_order_seq_cst);
                    {
                        std::unique_lock<std::mutex> lock(sleep_mutex_);
                        sleep_cv_.wait(
                            lock, [&] { return generation_.load(std::memory_order_seq_cst) != seen || stop_.load(); });
                    }
                    sleepers_.fetch_sub(1, std::memory_order_seq_cst);
                }
            }
        }
        if (stop_.load()) return;
        seen = w;
        if (ith < word_nth(w)) {
            execute(ith);
            n_done_.fetch_add(1, std::memory_order_release);
        }
    }
}

}  // namespace lc
