#pragma once
// Evaluation metrics (namespace voxnn::metrics): they read Tensors, return Tensors or doubles and record
// no gradients. For training objectives see voxnn/losses/.
//   overlap.hpp    dice (MONAI DiceMetric), dice_labels, dice_per_class, one_hot
//   distance.hpp   hausdorff_distance, hd95, average_surface_distance (MONAI), distance_transform_edt, mask_edges
//   image.hpp      psnr, ssim, ssim3d, nmse, mse, mae, rmse (fastMRI / scikit-image), *_per_sample (MONAI)
//   reduction.hpp  reduce_metric (MONAI's do_metric_reduction)
#include "voxnn/metrics/distance.hpp"
#include "voxnn/metrics/image.hpp"
#include "voxnn/metrics/overlap.hpp"
#include "voxnn/metrics/reduction.hpp"
