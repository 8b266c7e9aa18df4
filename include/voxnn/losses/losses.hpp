#pragma once
// Loss functions: regression (mse, l1, smooth L1, Huber) and classification (binary cross-entropy
// on logits, nll, cross-entropy), with PyTorch's reductions.
#include "voxnn/losses/classification.hpp"
#include "voxnn/losses/reduction.hpp"
#include "voxnn/losses/regression.hpp"
