/*
 * C++ under the harness: std::thread, std::mutex, std::condition_variable
 * and std::atomic. Two workers wait at a start gate (mutex and condition
 * variable), then each bumps a shared counter and counts itself done in an
 * atomic. The bug: Counter::bump() reads, yields and writes without the
 * lock, a data race and, when the other worker runs in between, a lost
 * update. "fixed": the bump holds the counter's mutex.
 */
#include <atomic>
#include <cassert>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <thread>

class Counter {
public:
	void bump()
	{
		int v = hits_;
		std::this_thread::yield();
		hits_ = v + 1;
	}
	void bump_locked()
	{
		std::lock_guard<std::mutex> g(m_);
		bump();
	}
	int hits() { std::lock_guard<std::mutex> g(m_); return hits_; }

private:
	std::mutex m_;
	int hits_ = 0;
};

static Counter counter;
static std::mutex gate_m;
static std::condition_variable gate_cv;
static bool open_gate;                /* under gate_m */
static std::atomic<int> done{0};
static bool fixed;

static void worker()
{
	{
		std::unique_lock<std::mutex> l(gate_m);
		gate_cv.wait(l, [] { return open_gate; });
	}
	if (fixed)
		counter.bump_locked();
	else
		counter.bump();
	done.fetch_add(1);
}

int main(int argc, char **argv)
{
	fixed = argc > 1 && std::strcmp(argv[1], "fixed") == 0;
	std::thread a(worker), b(worker);
	{
		std::lock_guard<std::mutex> g(gate_m);
		open_gate = true;
	}
	gate_cv.notify_all();
	a.join();
	b.join();
	assert(done.load() == 2);
	assert(counter.hits() == 2);
	std::printf("hits %d\n", counter.hits());
	return 0;
}
