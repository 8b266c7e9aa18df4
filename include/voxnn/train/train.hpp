#pragma once
// Around a training loop: the progress line and CSV training logs.
#include "voxnn/train/csv_log.hpp"
#include "voxnn/train/progress.hpp"
