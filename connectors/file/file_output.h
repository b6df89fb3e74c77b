// The file output: JSON lines appended to a file, buffered in memory and written on the
// output's strand in large writes, with size-based rotation and fsync on flush().
#pragma once

#include <atomic>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "connectors/runtime.h"

namespace weir::connectors {

struct file_output_options {
    std::string path;
    bool append = true;        // false: truncate at start
    bool create_dirs = false;  // create missing parent directories at start
    // Longest a line waits in memory; 0 writes as soon as the strand runs. Results wait less:
    // end_of_results() writes them when the strand next runs.
    std::chrono::milliseconds flush_interval{1000};
    bool fsync_each_write = false;      // `fsync: true`: also fsync after the periodic writes
    std::uint64_t rotate_max_size = 0;  // 0: no rotation
    int rotate_max_files = 5;           // path.1 … path.N are kept besides path
};

// Durability contract: flush() writes everything queued, fsyncs the file (and its directory
// after the file was created or rotated), then calls done(true). When a write fails, done
// gets false and the unwritten lines stay queued, in order, for the next attempt (the file is
// reopened first, so replacing or recreating it fixes the problem). Nothing is ever dropped:
// while writes fail, pending() counts the queued lines, so the queries writing here pause
// reading (`buffer.when_full: block`) and no checkpoint passes them. stats().errors counts
// failed write attempts; blocked() names the error meanwhile.
//
// At start (append) a line torn by a crash in the middle of a write is cut off: every line of
// the file stays valid JSON, and the result it held was not covered by any checkpoint (a
// checkpoint follows a complete write and fsync), so it is produced again.
class file_output final : public output, public std::enable_shared_from_this<file_output> {
  public:
    // Opens (creating, or truncating with append=false) the file; throws std::runtime_error
    // when it cannot (missing directory without create_dirs, permissions).
    static std::shared_ptr<file_output> open(const output_context& ctx,
                                             file_output_options options);

    file_output(const output_context& ctx, file_output_options options);  // use open()
    ~file_output() override;
    file_output(const file_output&) = delete;
    file_output& operator=(const file_output&) = delete;

    void write_result(const check_result& result) override;
    void write_record(std::string_view json) override;
    // What is queued is written when the strand next runs (not while writes fail: the retry
    // timer paces the attempts then).
    void end_of_results() override;
    void flush(std::function<void(bool ok, const std::string& error)> done) override;
    void stop(std::function<void()> done) override;
    output_stats stats() const override;
    std::uint64_t pending() const override;
    std::string blocked() const override;
    // `buffer.when_full: drop_oldest` while writes fail: the oldest whole lines go (never one
    // whose beginning is in the file already).
    void drop_oldest(std::uint64_t records) override;

  private:
    // Lines over this many bytes in the inbox are written without waiting for the timer.
    static constexpr std::size_t big_write = 1u << 20;
    // A burst is written by its producer a megabyte at a time: the lines are still in the
    // core's cache when write() copies them, and the inbox and outbox stay about a megabyte
    // each (at 4 MiB, W5, whose windows close for 50 K groups, took 17 % more CPU, and a daemon's
    // first bursts faulted in 20 MB of buffers as they doubled).
    static constexpr std::size_t inline_write = 1u << 20;

    void added_locked(std::unique_lock<std::mutex>& lock);
    // The rest runs on the strand.
    void on_pending();
    void arm_timer(std::chrono::milliseconds after);
    bool write_out(std::string& error);  // inbox -> outbox -> file; false keeps the rest
    void take_inbox();                   // inbox -> outbox
    bool write_chunk(std::size_t end, std::string& error);
    // `at_start`: cut a torn last line off (else it is terminated, or completed by our own
    // partial write).
    bool open_file(bool truncate, std::string& error, bool at_start = false);
    bool cut_torn_line(int fd, std::string& error);
    bool rotate(std::string& error);
    // The write under way failed with `error` / succeeded: pending() and blocked() follow.
    void set_failing(const std::string& error);
    void set_healthy();
    bool sync(std::string& error);
    void start_writeback();
    void close_file();

    boost::asio::any_io_executor executor_;
    const file_output_options options_;

    mutable std::mutex mutex_;  // guards the inbox: producers run on any thread
    // Guards the outbox and the file: the strand writes, and so does a producer with a burst.
    std::recursive_mutex io_mutex_;
    std::string inbox_;
    std::size_t inbox_lines_ = 0;  // newlines in inbox_
    bool pending_posted_ = false;  // a write of the inbox is scheduled (post or timer)
    bool big_posted_ = false;
    // Until then, a burst of results (a megabyte or more queued) is being written: its tail
    // goes out as soon as the strand runs instead of waiting for the flush interval.
    std::chrono::steady_clock::time_point burst_until_{};
    bool results_ended_ = false;  // end_of_results() since the strand last wrote
    bool stopped_ = false;
    bool stuck_ = false;             // writes fail (failing_, readable by any thread)
    std::uint64_t stuck_lines_ = 0;  // outbox lines when the last write failed

    // Strand only.
    std::string outbox_;            // taken from the inbox, not yet written
    std::size_t outbox_head_ = 0;   // bytes of outbox_ already written
    std::size_t outbox_lines_ = 0;  // newlines in outbox_ after outbox_head_
    int fd_ = -1;
    std::uint64_t size_ = 0;          // of the current file
    std::uint64_t written_back_ = 0;  // the file's bytes up to here are being written back
    bool mid_line_ = false;           // the file ends inside a line (after a partial write)
    bool dir_sync_pending_ = false;   // the file was created or rotated since the last sync
    bool timer_armed_ = false;
    std::string last_error_;
    bool failing_ = false;  // the last write failed (io_mutex_)
    boost::asio::steady_timer timer_;

    std::atomic<std::uint64_t> records_{0};
    std::atomic<std::uint64_t> errors_{0};
    std::atomic<std::uint64_t> dropped_{0};  // by drop_oldest()
    mutable std::mutex blocked_mutex_;       // guards blocked_: the error while writes fail
    std::string blocked_;
};

// The `file` output factory; throws std::runtime_error when the file cannot be opened.
std::shared_ptr<output> make_file_output(const params::reader& p, const output_context& ctx);

// `weir validate`'s checks of what `weir run` would refuse: the directory must exist (or,
// with create_dirs, be creatable) and be writable, and so must the file where it exists.
void preflight_file_output(const params::reader& p, const std::string& path, diagnostics& out);

}  // namespace weir::connectors
