"""Model definitions with torchvision's layouts and state_dict keys."""
from ember.vision.models.lenet import LeNet5, lenet5
from ember.vision.models.resnet import BasicBlock, Bottleneck, ResNet, resnet18, resnet34, resnet50

__all__ = ["BasicBlock", "Bottleneck", "LeNet5", "ResNet", "lenet5", "resnet18", "resnet34",
           "resnet50"]
