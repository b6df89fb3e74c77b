// The generator input at run time: a seeded synthetic stream (groups taking turns, declared
// fields, event times, disorder, injected problems) paced by an Asio timer.
#pragma once

#include <memory>

#include "connectors/runtime.h"

namespace weir::connectors {

// Determinism contract: the same parameters (and the same resolved start_time) give the same
// bytes on every run and platform — the generator uses its own PRNG (xoshiro256**) and only
// +, -, *, / and correctly rounded conversions, never std distributions or libm (the daily
// shape's cosine is a series). position()
// holds the generator's whole state (PRNG, counters, random walks, frozen values), so a
// restored generator continues with exactly the records an uninterrupted one would produce.
//
// Pacing: `rate` counts *slots* per wall-clock second; a slot is one group's turn and
// advances event time by time_step (speed / rate by default, so `speed` event seconds pass per
// wall-clock second). A slot normally yields one record; a silent group's slot
// yields none and a bursting group's slot yields `factor` records (spread within the slot's
// time_step), so bursts multiply and silences lower the record rate as configured.
std::unique_ptr<input> make_generator_input(const params::reader& p, const input_context& ctx);

}  // namespace weir::connectors
