// The one implementation of `input` (runtime.h) that every input type shares: it forwards to
// the type's impl, held by shared_ptr so that the impl's pending handlers keep it alive (with
// shared_from_this()) after the input is gone, and stops it on destruction.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "connectors/runtime.h"

namespace weir::connectors {

// `Impl` provides, with the meaning runtime.h gives them:
//   void start(input_events&); void pause(); void resume(); void stop();
//   std::string position() const; bool restore(std::string_view, std::string&);
//   bool bounded() const;
// and optionally initial_sources() const, committed(std::string_view) and status() const
// (otherwise the defaults of `input`: the one source "", nothing to acknowledge, nothing to
// report). stop() may be called more
// than once.
//
// The members are defined out of line, so they are not inline: an input whose impl is
// complete only in its .cc (tcp, udp) declares `extern template class input_facade<impl>;`
// in its header and instantiates it in the .cc, and code using the input never needs the
// impl's definition.
template <class Impl>
class input_facade : public input {
  public:
    template <class... Args>
    explicit input_facade(Args&&... args)
        : impl_(std::make_shared<Impl>(std::forward<Args>(args)...)) {}
    // Stops the impl: no callback runs after the input is destroyed.
    ~input_facade() override;
    input_facade(const input_facade&) = delete;
    input_facade& operator=(const input_facade&) = delete;

    std::vector<source_id> initial_sources() const override;
    void start(input_events& events) override;
    void pause() override;
    void resume() override;
    void stop() override;
    std::string position() const override;
    bool restore(std::string_view position, std::string& error) override;
    void committed(std::string_view position) override;
    bool bounded() const override;
    input_status status() const override;

  protected:
    Impl& impl() { return *impl_; }
    const Impl& impl() const { return *impl_; }

  private:
    std::shared_ptr<Impl> impl_;
};

// An input of type `Impl`, built as Impl(args...).
template <class Impl, class... Args>
std::unique_ptr<input> make_facade(Args&&... args) {
    return std::make_unique<input_facade<Impl>>(std::forward<Args>(args)...);
}

template <class Impl>
input_facade<Impl>::~input_facade() {
    impl_->stop();
}

template <class Impl>
std::vector<source_id> input_facade<Impl>::initial_sources() const {
    if constexpr (requires(const Impl& i) { i.initial_sources(); }) {
        return impl_->initial_sources();
    } else {
        return input::initial_sources();
    }
}

template <class Impl>
void input_facade<Impl>::start(input_events& events) {
    impl_->start(events);
}

template <class Impl>
void input_facade<Impl>::pause() {
    impl_->pause();
}

template <class Impl>
void input_facade<Impl>::resume() {
    impl_->resume();
}

template <class Impl>
void input_facade<Impl>::stop() {
    impl_->stop();
}

template <class Impl>
std::string input_facade<Impl>::position() const {
    return impl_->position();
}

template <class Impl>
bool input_facade<Impl>::restore(std::string_view position, std::string& error) {
    return impl_->restore(position, error);
}

template <class Impl>
void input_facade<Impl>::committed(std::string_view position) {
    if constexpr (requires(Impl & i, std::string_view p) { i.committed(p); }) {
        impl_->committed(position);
    } else {
        input::committed(position);
    }
}

template <class Impl>
bool input_facade<Impl>::bounded() const {
    return impl_->bounded();
}

template <class Impl>
input_status input_facade<Impl>::status() const {
    if constexpr (requires(const Impl& i) { i.status(); }) {
        return impl_->status();
    } else {
        return input::status();
    }
}

}  // namespace weir::connectors
