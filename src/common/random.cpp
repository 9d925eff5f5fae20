#include "galaxy/common/random.hpp"

#include <random>

namespace galaxy {

std::uint64_t random_seed() {
  std::random_device device;
  // random_device yields 32 bits per call on libstdc++.
  return (std::uint64_t{device()} << 32U) ^ device();
}

UnitRandom seeded_unit_random(std::uint64_t seed) {
  return [engine = std::mt19937_64(seed)]() mutable {
    return std::uniform_real_distribution<double>(0.0, 1.0)(engine);
  };
}

}  // namespace galaxy
