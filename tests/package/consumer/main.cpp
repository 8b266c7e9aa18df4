#include <voxnn/voxnn.hpp>

int main() {
  auto t = voxnn::ones<float>({2, 3});
  return voxnn::ops::sum(t).item() == 6.0f ? 0 : 1;
}
