#pragma once
// All tensor-level ops (no autograd).
#include "voxnn/ops/elementwise.hpp"
#include "voxnn/ops/indexing.hpp"
#include "voxnn/ops/join.hpp"
#include "voxnn/ops/linalg.hpp"
#include "voxnn/ops/reduce.hpp"
