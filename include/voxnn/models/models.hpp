#pragma once
// The model zoo, each model an ordinary nn::Module built from voxnn's public primitives:
//   UNet3d                      the classic 3D U-Net (Cicek et al.)
//   BasicUNet, MonaiUNet        MONAI's U-Nets, loading MONAI state dicts by name
//   VxmDense                    VoxelMorph's registration network (voxelmorph's names)
//   VarNet, VarNet3d            fastMRI's end-to-end variational network, and a 3D variant
//   DeepPET                     sinogram-to-image PET reconstruction
//   RedWganGenerator/Critic     RED-WGAN's 3D denoising GAN
//   UnetGenerator, NLayerDiscriminator, ResnetGenerator   pix2pix / Vox2Vox and CycleGAN networks (2D, 3D)
//   SliceSetNet, SliceLstm, BrainAgeCnn3d                 brain-age networks over 2D slices, and the 3D baseline
// docs/models/ has a page per model.
#include "voxnn/models/basic_unet.hpp"
#include "voxnn/models/brain_age_cnn3d.hpp"
#include "voxnn/models/cyclegan.hpp"
#include "voxnn/models/deeppet.hpp"
#include "voxnn/models/monai_unet.hpp"
#include "voxnn/models/pix2pix.hpp"
#include "voxnn/models/red_wgan.hpp"
#include "voxnn/models/slice_lstm.hpp"
#include "voxnn/models/slice_set_net.hpp"
#include "voxnn/models/unet3d.hpp"
#include "voxnn/models/varnet.hpp"
#include "voxnn/models/vxm_dense.hpp"
