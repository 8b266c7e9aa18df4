#pragma once
// Optimisers (SGD, Adam, AdamW, RMSprop), learning-rate schedules and gradient clipping.
#include "voxnn/optim/adam.hpp"
#include "voxnn/optim/clip_grad.hpp"
#include "voxnn/optim/lr_scheduler.hpp"
#include "voxnn/optim/optimizer.hpp"
#include "voxnn/optim/rmsprop.hpp"
#include "voxnn/optim/sgd.hpp"
