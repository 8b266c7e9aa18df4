#pragma once
// Modules: the base class, containers, layers, activations and initialisers.
#include "voxnn/nn/activation.hpp"
#include "voxnn/nn/container.hpp"
#include "voxnn/nn/dropout.hpp"
#include "voxnn/nn/identity.hpp"
#include "voxnn/nn/init.hpp"
#include "voxnn/nn/linear.hpp"
#include "voxnn/nn/module.hpp"
#include "voxnn/nn/state_dict.hpp"
