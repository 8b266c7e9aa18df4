// The Catch2 runner, compiled once into voxnn_catch_main and linked into every test executable.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
