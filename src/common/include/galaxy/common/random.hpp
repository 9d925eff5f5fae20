// Randomness is an input, like time (clock.hpp): components that jitter take a UnitRandom, so unit
// tests pass fixed values and production passes a seeded engine.
#pragma once

#include <cstdint>
#include <functional>

namespace galaxy {

// Uniform draws in [0, 1]. Called from one thread at a time (each user owns its own).
using UnitRandom = std::function<double()>;

// 64 bits from std::random_device: the one place the codebase asks the OS for entropy.
std::uint64_t random_seed();

// A UnitRandom over its own std::mt19937_64 seeded with `seed`. The engine is held by value: a copy
// repeats the original's draws from there on, so give each user its own seed.
UnitRandom seeded_unit_random(std::uint64_t seed);

}  // namespace galaxy
