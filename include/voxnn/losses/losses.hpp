#pragma once
// Loss functions: regression (mse, l1, smooth L1, Huber) and classification (binary cross-entropy
// on logits, nll, cross-entropy) with PyTorch's reductions; segmentation (Dice, generalised Dice,
// Dice + cross-entropy, focal: MONAI's), registration (voxelmorph's NCC and Grad, MONAI's bending
// energy and local NCC), fastMRI's SSIM loss, and adversarial losses with the WGAN-GP penalty.
#include "voxnn/losses/adversarial.hpp"
#include "voxnn/losses/classification.hpp"
#include "voxnn/losses/dice.hpp"
#include "voxnn/losses/focal.hpp"
#include "voxnn/losses/reduction.hpp"
#include "voxnn/losses/registration.hpp"
#include "voxnn/losses/regression.hpp"
#include "voxnn/losses/ssim.hpp"
