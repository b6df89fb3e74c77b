// What lets the receiver of a delivery (core/record/delivery.h) keep its bytes past the call.
#pragma once

#include <memory>

namespace weir {

// A source that lets the receiver of a delivery keep its bytes past the call, instead of
// copying them (a query spread over threads reads them later, on another thread).
class bytes_keeper {
  public:
    // A handle under which the delivery's `bytes`, and the padding after them, stay valid and
    // unchanged until it is released: the source writes what it reads next elsewhere.
    virtual std::shared_ptr<const void> keep() = 0;

  protected:
    ~bytes_keeper() = default;
};

}  // namespace weir
