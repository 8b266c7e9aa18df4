#pragma once
// Define-by-run autograd: Var, the backward engine, differentiable functions, gradcheck.
#include "voxnn/autograd/engine.hpp"
#include "voxnn/autograd/functions/activation.hpp"
#include "voxnn/autograd/functions/arithmetic.hpp"
#include "voxnn/autograd/functions/linalg.hpp"
#include "voxnn/autograd/functions/reduce.hpp"
#include "voxnn/autograd/functions/shape.hpp"
#include "voxnn/autograd/gradcheck.hpp"
#include "voxnn/autograd/grad_mode.hpp"
#include "voxnn/autograd/var.hpp"
