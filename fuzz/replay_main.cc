// A stand-in for libFuzzer's main, for builds without it (g++, the test command): replays
// every file of the corpora given, then feeds deterministic mutations of them (a fixed seed:
// the same inputs in the same order on every machine) until --runs or --seconds is reached,
// whichever comes first. An input that makes the target fail is written to
// crash-<target> in the working directory, and the run fails.
//
//   fuzz_<name> [--seconds S] [--runs N] CORPUS_DIR_OR_FILE...
#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);
// The sanitizers' hook for their reports (absent without them).
extern "C" void __sanitizer_set_death_callback(void (*callback)()) __attribute__((weak));

namespace {

// Bytes that matter to several of the formats: YAML, JSON, CSV, interpolation, times.
constexpr const char* k_tokens[] = {"${", "}", ":-",   ":?",  "$$",   "\n", "\"", "'", ",", ":",
                                    "{",  "[", "]",    " ",   "-",    "0",  "9",  "e", "T", "Z",
                                    ".",  "%", "null", "\\u", "\r\n", "&a", "*a", "!!"};

std::string read_file(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The input that is about to run, for the crash report (an ASan abort ends the process).
const std::string* current = nullptr;

std::string target_name;

void write_current() {
    if (current == nullptr) return;
    const std::string name = "crash-" + target_name;
    if (std::FILE* f = std::fopen(name.c_str(), "wb")) {
        std::fwrite(current->data(), 1, current->size(), f);
        std::fclose(f);
        std::fprintf(stderr, "the failing input is in %s\n", name.c_str());
    }
}

void run(const std::string& input) {
    current = &input;
    // A copy of exactly the input's size, so that ASan sees reads past its end.
    std::vector<std::uint8_t> bytes(input.begin(), input.end());
    LLVMFuzzerTestOneInput(bytes.data(), bytes.size());
    current = nullptr;
}

std::string mutate(std::string s, const std::vector<std::string>& corpus, std::mt19937_64& rng) {
    const int steps = 1 + static_cast<int>(rng() % 4);
    for (int i = 0; i < steps; ++i) {
        const std::size_t at = s.empty() ? 0 : rng() % (s.size() + 1);
        switch (rng() % 7) {
            case 0:  // flip a bit
                if (!s.empty()) s[at % s.size()] ^= static_cast<char>(1u << (rng() % 8));
                break;
            case 1:  // a random byte
                s.insert(at, 1, static_cast<char>(rng() % 256));
                break;
            case 2: {  // erase a range
                if (s.empty()) break;
                const std::size_t n =
                    1 + rng() % std::min<std::size_t>(s.size() - at % s.size(), 16);
                s.erase(at % s.size(), n);
                break;
            }
            case 3: {  // repeat a range
                if (s.empty()) break;
                const std::size_t from = rng() % s.size();
                const std::size_t n = 1 + rng() % std::min<std::size_t>(s.size() - from, 32);
                const std::string piece = s.substr(from, n);
                for (std::size_t k = 1 + rng() % 8; k > 0; --k) s.insert(at, piece);
                break;
            }
            case 4:  // a token
                s.insert(at, k_tokens[rng() % std::size(k_tokens)]);
                break;
            case 5: {  // splice in a piece of another input
                const std::string& other = corpus[rng() % corpus.size()];
                if (other.empty()) break;
                const std::size_t from = rng() % other.size();
                s.insert(at, other.substr(from, 1 + rng() % 64));
                break;
            }
            default:  // truncate
                s.resize(at);
                break;
        }
    }
    constexpr std::size_t k_max_size = 64 * 1024;
    if (s.size() > k_max_size) s.resize(k_max_size);
    return s;
}

}  // namespace

int main(int argc, char** argv) {
    double seconds = 5;
    std::uint64_t runs = 100000;
    std::vector<std::string> corpus;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--seconds" && i + 1 < argc) {
            seconds = std::atof(argv[++i]);
        } else if (arg == "--runs" && i + 1 < argc) {
            runs = std::strtoull(argv[++i], nullptr, 10);
        } else if (std::filesystem::is_directory(arg)) {
            std::vector<std::filesystem::path> files;
            for (const auto& e : std::filesystem::directory_iterator(arg)) {
                if (e.is_regular_file()) files.push_back(e.path());
            }
            std::sort(files.begin(), files.end());
            for (const auto& f : files) corpus.push_back(read_file(f));
        } else if (std::filesystem::is_regular_file(arg)) {
            corpus.push_back(read_file(arg));
        } else {
            std::cerr << "usage: " << argv[0] << " [--seconds S] [--runs N] CORPUS...\n"
                      << "no such file or directory: " << arg << '\n';
            return 64;
        }
    }
    if (corpus.empty()) corpus.emplace_back();
    target_name = std::filesystem::path(argv[0]).filename().string();
    if (__sanitizer_set_death_callback != nullptr) __sanitizer_set_death_callback(write_current);
    for (const int sig : {SIGABRT, SIGILL, SIGSEGV, SIGFPE, SIGBUS}) {
        std::signal(sig, [](int) {
            write_current();
            std::_Exit(1);
        });
    }

    for (const auto& input : corpus) run(input);
    const auto deadline = std::chrono::steady_clock::now() +
                          std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                              std::chrono::duration<double>(seconds));
    std::mt19937_64 rng(20261204);
    std::uint64_t n = 0;
    for (; n < runs && std::chrono::steady_clock::now() < deadline; ++n) {
        run(mutate(corpus[rng() % corpus.size()], corpus, rng));
    }
    std::cout << argv[0] << ": " << corpus.size() << " corpus inputs and " << n
              << " mutations passed\n";
    return 0;
}
