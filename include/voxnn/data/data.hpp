#pragma once
// Data: physical space (orientation, resampling), transforms, datasets and the prefetching loader,
// sliding-window inference, Otsu thresholds, phantoms, k-space masks and MRI / PET simulators.
#include "voxnn/data/dataset.hpp"
#include "voxnn/data/kspace_mask.hpp"
#include "voxnn/data/loader.hpp"
#include "voxnn/data/mri_simulation.hpp"
#include "voxnn/data/orientation.hpp"
#include "voxnn/data/pet.hpp"
#include "voxnn/data/phantom.hpp"
#include "voxnn/data/resample.hpp"
#include "voxnn/data/sample.hpp"
#include "voxnn/data/sliding_window.hpp"
#include "voxnn/data/threshold.hpp"
#include "voxnn/data/transforms.hpp"
