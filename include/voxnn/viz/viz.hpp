#pragma once
// Pictures for people: an RGB canvas with a built-in font, colour maps, slice montages and line plots.
#include "voxnn/viz/colormap.hpp"
#include "voxnn/viz/font.hpp"
#include "voxnn/viz/image.hpp"
#include "voxnn/viz/montage.hpp"
#include "voxnn/viz/plot.hpp"
