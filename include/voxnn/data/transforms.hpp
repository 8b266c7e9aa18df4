#pragma once
// Sample transforms for training pipelines (MONAI-style, seeded by the sample's generator): compose,
// intensity, crop / pad, crop foreground, random crops, flips and 90-degree rotations, affine and
// elastic resampling, noise, bias field, one-hot labels.
#include "voxnn/data/transforms/bias_field.hpp"
#include "voxnn/data/transforms/common.hpp"
#include "voxnn/data/transforms/compose.hpp"
#include "voxnn/data/transforms/crop_foreground.hpp"
#include "voxnn/data/transforms/crop_pad.hpp"
#include "voxnn/data/transforms/elastic.hpp"
#include "voxnn/data/transforms/flip_rotate.hpp"
#include "voxnn/data/transforms/intensity.hpp"
#include "voxnn/data/transforms/noise.hpp"
#include "voxnn/data/transforms/one_hot.hpp"
#include "voxnn/data/transforms/random_affine.hpp"
#include "voxnn/data/transforms/random_crop.hpp"
#include "voxnn/data/transforms/resample.hpp"
