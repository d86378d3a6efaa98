"""Acceptance: yunjey/pytorch-tutorial (github.com/yunjey/pytorch-tutorial, MIT licence,
(c) 2017 Yunjey Choi) runs unchanged on ember.

Seven files are kept verbatim (each at the commit named above it): logistic regression and a
BatchNorm CNN on MNIST (``torchvision.datasets.MNIST`` with ``ToTensor``, ``DataLoader``,
``torch.max(outputs.data, 1)``, an accuracy that is a 0-d tensor formatted by ``str.format``), a
two-layer bidirectional LSTM classifier reading images row by row, an LSTM word language model
(``torch.LongTensor(n)`` filled item by item, truncated backpropagation through ``detach``,
``clip_grad_norm_``, sampling with ``multinomial`` and an in-place ``fill_``), a VAE (the
legacy ``size_average=False`` of ``F.binary_cross_entropy``, ``randn_like``, ``save_image``)
and a fully connected GAN (``BCELoss``, two Adam optimizers, ``Normalize(mean=[0.5],
std=[0.5])``). Each script runs as written on a generated MNIST (or a generated text); only its
hyper-parameter lines (epochs, batch and layer sizes, learning rate, print interval) are
substituted. The torch comparisons rebuild each script's model class on real PyTorch (the class
source cut out of the script), load ember's trained weights and compare outputs and gradients.
"""

# The project's code is kept verbatim, long lines and trailing spaces included.
# ruff: noqa: E501, W291, W293

import re

import numpy as np
import pytest
from acceptance_runner import run, write_mnist

import ember

# tutorials/01-basics/logistic_regression/main.py at commit 3008d88222883c8691658b0a7833d07a1408d755
LOGISTIC_REGRESSION = r'''import torch
import torch.nn as nn
import torchvision
import torchvision.transforms as transforms


# Hyper-parameters 
input_size = 28 * 28    # 784
num_classes = 10
num_epochs = 5
batch_size = 100
learning_rate = 0.001

# MNIST dataset (images and labels)
train_dataset = torchvision.datasets.MNIST(root='../../data', 
                                           train=True, 
                                           transform=transforms.ToTensor(),
                                           download=True)

test_dataset = torchvision.datasets.MNIST(root='../../data', 
                                          train=False, 
                                          transform=transforms.ToTensor())

# Data loader (input pipeline)
train_loader = torch.utils.data.DataLoader(dataset=train_dataset, 
                                           batch_size=batch_size, 
                                           shuffle=True)

test_loader = torch.utils.data.DataLoader(dataset=test_dataset, 
                                          batch_size=batch_size, 
                                          shuffle=False)

# Logistic regression model
model = nn.Linear(input_size, num_classes)

# Loss and optimizer
# nn.CrossEntropyLoss() computes softmax internally
criterion = nn.CrossEntropyLoss()  
optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate)  

# Train the model
total_step = len(train_loader)
for epoch in range(num_epochs):
    for i, (images, labels) in enumerate(train_loader):
        # Reshape images to (batch_size, input_size)
        images = images.reshape(-1, input_size)
        
        # Forward pass
        outputs = model(images)
        loss = criterion(outputs, labels)
        
        # Backward and optimize
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        
        if (i+1) % 100 == 0:
            print ('Epoch [{}/{}], Step [{}/{}], Loss: {:.4f}' 
                   .format(epoch+1, num_epochs, i+1, total_step, loss.item()))

# Test the model
# In test phase, we don't need to compute gradients (for memory efficiency)
with torch.no_grad():
    correct = 0
    total = 0
    for images, labels in test_loader:
        images = images.reshape(-1, input_size)
        outputs = model(images)
        _, predicted = torch.max(outputs.data, 1)
        total += labels.size(0)
        correct += (predicted == labels).sum()

    print('Accuracy of the model on the 10000 test images: {} %'.format(100 * correct / total))

# Save the model checkpoint
torch.save(model.state_dict(), 'model.ckpt')
'''

# tutorials/02-intermediate/convolutional_neural_network/main.py at commit 78c6afe681c4ff5095ef13662c02a7e369b1bcbd
CONVOLUTIONAL_NEURAL_NETWORK = r'''import torch 
import torch.nn as nn
import torchvision
import torchvision.transforms as transforms


# Device configuration
device = torch.device('cuda:0' if torch.cuda.is_available() else 'cpu')

# Hyper parameters
num_epochs = 5
num_classes = 10
batch_size = 100
learning_rate = 0.001

# MNIST dataset
train_dataset = torchvision.datasets.MNIST(root='../../data/',
                                           train=True, 
                                           transform=transforms.ToTensor(),
                                           download=True)

test_dataset = torchvision.datasets.MNIST(root='../../data/',
                                          train=False, 
                                          transform=transforms.ToTensor())

# Data loader
train_loader = torch.utils.data.DataLoader(dataset=train_dataset,
                                           batch_size=batch_size, 
                                           shuffle=True)

test_loader = torch.utils.data.DataLoader(dataset=test_dataset,
                                          batch_size=batch_size, 
                                          shuffle=False)

# Convolutional neural network (two convolutional layers)
class ConvNet(nn.Module):
    def __init__(self, num_classes=10):
        super(ConvNet, self).__init__()
        self.layer1 = nn.Sequential(
            nn.Conv2d(1, 16, kernel_size=5, stride=1, padding=2),
            nn.BatchNorm2d(16),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=2, stride=2))
        self.layer2 = nn.Sequential(
            nn.Conv2d(16, 32, kernel_size=5, stride=1, padding=2),
            nn.BatchNorm2d(32),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=2, stride=2))
        self.fc = nn.Linear(7*7*32, num_classes)
        
    def forward(self, x):
        out = self.layer1(x)
        out = self.layer2(out)
        out = out.reshape(out.size(0), -1)
        out = self.fc(out)
        return out

model = ConvNet(num_classes).to(device)

# Loss and optimizer
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)

# Train the model
total_step = len(train_loader)
for epoch in range(num_epochs):
    for i, (images, labels) in enumerate(train_loader):
        images = images.to(device)
        labels = labels.to(device)
        
        # Forward pass
        outputs = model(images)
        loss = criterion(outputs, labels)
        
        # Backward and optimize
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        
        if (i+1) % 100 == 0:
            print ('Epoch [{}/{}], Step [{}/{}], Loss: {:.4f}' 
                   .format(epoch+1, num_epochs, i+1, total_step, loss.item()))

# Test the model
model.eval()  # eval mode (batchnorm uses moving mean/variance instead of mini-batch mean/variance)
with torch.no_grad():
    correct = 0
    total = 0
    for images, labels in test_loader:
        images = images.to(device)
        labels = labels.to(device)
        outputs = model(images)
        _, predicted = torch.max(outputs.data, 1)
        total += labels.size(0)
        correct += (predicted == labels).sum().item()

    print('Test Accuracy of the model on the 10000 test images: {} %'.format(100 * correct / total))

# Save the model checkpoint
torch.save(model.state_dict(), 'model.ckpt')'''

# tutorials/02-intermediate/bidirectional_recurrent_neural_network/main.py at commit 78c6afe681c4ff5095ef13662c02a7e369b1bcbd
BIDIRECTIONAL_RNN = r'''import torch 
import torch.nn as nn
import torchvision
import torchvision.transforms as transforms


# Device configuration
device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')

# Hyper-parameters
sequence_length = 28
input_size = 28
hidden_size = 128
num_layers = 2
num_classes = 10
batch_size = 100
num_epochs = 2
learning_rate = 0.003

# MNIST dataset
train_dataset = torchvision.datasets.MNIST(root='../../data/',
                                           train=True, 
                                           transform=transforms.ToTensor(),
                                           download=True)

test_dataset = torchvision.datasets.MNIST(root='../../data/',
                                          train=False, 
                                          transform=transforms.ToTensor())

# Data loader
train_loader = torch.utils.data.DataLoader(dataset=train_dataset,
                                           batch_size=batch_size, 
                                           shuffle=True)

test_loader = torch.utils.data.DataLoader(dataset=test_dataset,
                                          batch_size=batch_size, 
                                          shuffle=False)

# Bidirectional recurrent neural network (many-to-one)
class BiRNN(nn.Module):
    def __init__(self, input_size, hidden_size, num_layers, num_classes):
        super(BiRNN, self).__init__()
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.lstm = nn.LSTM(input_size, hidden_size, num_layers, batch_first=True, bidirectional=True)
        self.fc = nn.Linear(hidden_size*2, num_classes)  # 2 for bidirection
    
    def forward(self, x):
        # Set initial states
        h0 = torch.zeros(self.num_layers*2, x.size(0), self.hidden_size).to(device) # 2 for bidirection 
        c0 = torch.zeros(self.num_layers*2, x.size(0), self.hidden_size).to(device)
        
        # Forward propagate LSTM
        out, _ = self.lstm(x, (h0, c0))  # out: tensor of shape (batch_size, seq_length, hidden_size*2)
        
        # Decode the hidden state of the last time step
        out = self.fc(out[:, -1, :])
        return out

model = BiRNN(input_size, hidden_size, num_layers, num_classes).to(device)


# Loss and optimizer
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    
# Train the model
total_step = len(train_loader)
for epoch in range(num_epochs):
    for i, (images, labels) in enumerate(train_loader):
        images = images.reshape(-1, sequence_length, input_size).to(device)
        labels = labels.to(device)
        
        # Forward pass
        outputs = model(images)
        loss = criterion(outputs, labels)
        
        # Backward and optimize
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        
        if (i+1) % 100 == 0:
            print ('Epoch [{}/{}], Step [{}/{}], Loss: {:.4f}' 
                   .format(epoch+1, num_epochs, i+1, total_step, loss.item()))

# Test the model
with torch.no_grad():
    correct = 0
    total = 0
    for images, labels in test_loader:
        images = images.reshape(-1, sequence_length, input_size).to(device)
        labels = labels.to(device)
        outputs = model(images)
        _, predicted = torch.max(outputs.data, 1)
        total += labels.size(0)
        correct += (predicted == labels).sum().item()

    print('Test Accuracy of the model on the 10000 test images: {} %'.format(100 * correct / total)) 

# Save the model checkpoint
torch.save(model.state_dict(), 'model.ckpt')'''

# tutorials/02-intermediate/language_model/main.py at commit 032a934b488b7625f69af14318c2b1a7d3c4b008
LANGUAGE_MODEL = r'''# Some part of the code was referenced from below.
# https://github.com/pytorch/examples/tree/master/word_language_model 
import torch
import torch.nn as nn
import numpy as np
from torch.nn.utils import clip_grad_norm_
from data_utils import Dictionary, Corpus


# Device configuration
device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')

# Hyper-parameters
embed_size = 128
hidden_size = 1024
num_layers = 1
num_epochs = 5
num_samples = 1000     # number of words to be sampled
batch_size = 20
seq_length = 30
learning_rate = 0.002

# Load "Penn Treebank" dataset
corpus = Corpus()
ids = corpus.get_data('data/train.txt', batch_size)
vocab_size = len(corpus.dictionary)
num_batches = ids.size(1) // seq_length


# RNN based language model
class RNNLM(nn.Module):
    def __init__(self, vocab_size, embed_size, hidden_size, num_layers):
        super(RNNLM, self).__init__()
        self.embed = nn.Embedding(vocab_size, embed_size)
        self.lstm = nn.LSTM(embed_size, hidden_size, num_layers, batch_first=True)
        self.linear = nn.Linear(hidden_size, vocab_size)
        
    def forward(self, x, h):
        # Embed word ids to vectors
        x = self.embed(x)
        
        # Forward propagate LSTM
        out, (h, c) = self.lstm(x, h)
        
        # Reshape output to (batch_size*sequence_length, hidden_size)
        out = out.reshape(out.size(0)*out.size(1), out.size(2))
        
        # Decode hidden states of all time steps
        out = self.linear(out)
        return out, (h, c)

model = RNNLM(vocab_size, embed_size, hidden_size, num_layers).to(device)

# Loss and optimizer
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)

# Truncated backpropagation
def detach(states):
    return [state.detach() for state in states] 

# Train the model
for epoch in range(num_epochs):
    # Set initial hidden and cell states
    states = (torch.zeros(num_layers, batch_size, hidden_size).to(device),
              torch.zeros(num_layers, batch_size, hidden_size).to(device))
    
    for i in range(0, ids.size(1) - seq_length, seq_length):
        # Get mini-batch inputs and targets
        inputs = ids[:, i:i+seq_length].to(device)
        targets = ids[:, (i+1):(i+1)+seq_length].to(device)
        
        # Forward pass
        states = detach(states)
        outputs, states = model(inputs, states)
        loss = criterion(outputs, targets.reshape(-1))
        
        # Backward and optimize
        optimizer.zero_grad()
        loss.backward()
        clip_grad_norm_(model.parameters(), 0.5)
        optimizer.step()

        step = (i+1) // seq_length
        if step % 100 == 0:
            print ('Epoch [{}/{}], Step[{}/{}], Loss: {:.4f}, Perplexity: {:5.2f}'
                   .format(epoch+1, num_epochs, step, num_batches, loss.item(), np.exp(loss.item())))

# Test the model
with torch.no_grad():
    with open('sample.txt', 'w') as f:
        # Set intial hidden and cell states
        state = (torch.zeros(num_layers, 1, hidden_size).to(device),
                 torch.zeros(num_layers, 1, hidden_size).to(device))

        # Select one word id randomly
        prob = torch.ones(vocab_size)
        input = torch.multinomial(prob, num_samples=1).unsqueeze(1).to(device)

        for i in range(num_samples):
            # Forward propagate RNN 
            output, state = model(input, state)

            # Sample a word id
            prob = output.exp()
            word_id = torch.multinomial(prob, num_samples=1).item()

            # Fill input with sampled word id for the next time step
            input.fill_(word_id)

            # File write
            word = corpus.dictionary.idx2word[word_id]
            word = '\n' if word == '<eos>' else word + ' '
            f.write(word)

            if (i+1) % 100 == 0:
                print('Sampled [{}/{}] words and save to {}'.format(i+1, num_samples, 'sample.txt'))

# Save the model checkpoints
torch.save(model.state_dict(), 'model.ckpt')
'''

# tutorials/02-intermediate/language_model/data_utils.py at commit 6aa638dcbf7471d106d3bb3f5f26667c42850203
DATA_UTILS = r'''import torch
import os

class Dictionary(object):
    def __init__(self):
        self.word2idx = {}
        self.idx2word = {}
        self.idx = 0
    
    def add_word(self, word):
        if not word in self.word2idx:
            self.word2idx[word] = self.idx
            self.idx2word[self.idx] = word
            self.idx += 1
    
    def __len__(self):
        return len(self.word2idx)
    
class Corpus(object):
    def __init__(self, path='./data'):
        self.dictionary = Dictionary()

    def get_data(self, path, batch_size=20):
        # Add words to the dictionary
        with open(path, 'r') as f:
            tokens = 0
            for line in f:
                words = line.split() + ['<eos>']
                tokens += len(words)
                for word in words: 
                    self.dictionary.add_word(word)  
        
        # Tokenize the file content
        ids = torch.LongTensor(tokens)
        token = 0
        with open(path, 'r') as f:
            for line in f:
                words = line.split() + ['<eos>']
                for word in words:
                    ids[token] = self.dictionary.word2idx[word]
                    token += 1
        num_batches = ids.size(0) // batch_size
        ids = ids[:num_batches*batch_size]
        return ids.view(batch_size, -1)
'''

# tutorials/03-advanced/variational_autoencoder/main.py at commit 78c6afe681c4ff5095ef13662c02a7e369b1bcbd
VARIATIONAL_AUTOENCODER = r'''import os
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from torchvision import transforms
from torchvision.utils import save_image


# Device configuration
device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')

# Create a directory if not exists
sample_dir = 'samples'
if not os.path.exists(sample_dir):
    os.makedirs(sample_dir)

# Hyper-parameters
image_size = 784
h_dim = 400
z_dim = 20
num_epochs = 15
batch_size = 128
learning_rate = 1e-3

# MNIST dataset
dataset = torchvision.datasets.MNIST(root='../../data',
                                     train=True,
                                     transform=transforms.ToTensor(),
                                     download=True)

# Data loader
data_loader = torch.utils.data.DataLoader(dataset=dataset,
                                          batch_size=batch_size, 
                                          shuffle=True)


# VAE model
class VAE(nn.Module):
    def __init__(self, image_size=784, h_dim=400, z_dim=20):
        super(VAE, self).__init__()
        self.fc1 = nn.Linear(image_size, h_dim)
        self.fc2 = nn.Linear(h_dim, z_dim)
        self.fc3 = nn.Linear(h_dim, z_dim)
        self.fc4 = nn.Linear(z_dim, h_dim)
        self.fc5 = nn.Linear(h_dim, image_size)
        
    def encode(self, x):
        h = F.relu(self.fc1(x))
        return self.fc2(h), self.fc3(h)
    
    def reparameterize(self, mu, log_var):
        std = torch.exp(log_var/2)
        eps = torch.randn_like(std)
        return mu + eps * std

    def decode(self, z):
        h = F.relu(self.fc4(z))
        return F.sigmoid(self.fc5(h))
    
    def forward(self, x):
        mu, log_var = self.encode(x)
        z = self.reparameterize(mu, log_var)
        x_reconst = self.decode(z)
        return x_reconst, mu, log_var

model = VAE().to(device)
optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)

# Start training
for epoch in range(num_epochs):
    for i, (x, _) in enumerate(data_loader):
        # Forward pass
        x = x.to(device).view(-1, image_size)
        x_reconst, mu, log_var = model(x)
        
        # Compute reconstruction loss and kl divergence
        # For KL divergence, see Appendix B in VAE paper or http://yunjey47.tistory.com/43
        reconst_loss = F.binary_cross_entropy(x_reconst, x, size_average=False)
        kl_div = - 0.5 * torch.sum(1 + log_var - mu.pow(2) - log_var.exp())
        
        # Backprop and optimize
        loss = reconst_loss + kl_div
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        
        if (i+1) % 10 == 0:
            print ("Epoch[{}/{}], Step [{}/{}], Reconst Loss: {:.4f}, KL Div: {:.4f}" 
                   .format(epoch+1, num_epochs, i+1, len(data_loader), reconst_loss.item(), kl_div.item()))
    
    with torch.no_grad():
        # Save the sampled images
        z = torch.randn(batch_size, z_dim).to(device)
        out = model.decode(z).view(-1, 1, 28, 28)
        save_image(out, os.path.join(sample_dir, 'sampled-{}.png'.format(epoch+1)))

        # Save the reconstructed images
        out, _, _ = model(x)
        x_concat = torch.cat([x.view(-1, 1, 28, 28), out.view(-1, 1, 28, 28)], dim=3)
        save_image(x_concat, os.path.join(sample_dir, 'reconst-{}.png'.format(epoch+1)))'''

# tutorials/03-advanced/generative_adversarial_network/main.py at commit 48ebfa38b074628eec27142f440f5b6bb0c6e9bc
GENERATIVE_ADVERSARIAL_NETWORK = r'''import os
import torch
import torchvision
import torch.nn as nn
from torchvision import transforms
from torchvision.utils import save_image


# Device configuration
device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')

# Hyper-parameters
latent_size = 64
hidden_size = 256
image_size = 784
num_epochs = 200
batch_size = 100
sample_dir = 'samples'

# Create a directory if not exists
if not os.path.exists(sample_dir):
    os.makedirs(sample_dir)

# Image processing
# transform = transforms.Compose([
#                 transforms.ToTensor(),
#                 transforms.Normalize(mean=(0.5, 0.5, 0.5),   # 3 for RGB channels
#                                      std=(0.5, 0.5, 0.5))])
transform = transforms.Compose([
                transforms.ToTensor(),
                transforms.Normalize(mean=[0.5],   # 1 for greyscale channels
                                     std=[0.5])])

# MNIST dataset
mnist = torchvision.datasets.MNIST(root='../../data/',
                                   train=True,
                                   transform=transform,
                                   download=True)

# Data loader
data_loader = torch.utils.data.DataLoader(dataset=mnist,
                                          batch_size=batch_size, 
                                          shuffle=True)

# Discriminator
D = nn.Sequential(
    nn.Linear(image_size, hidden_size),
    nn.LeakyReLU(0.2),
    nn.Linear(hidden_size, hidden_size),
    nn.LeakyReLU(0.2),
    nn.Linear(hidden_size, 1),
    nn.Sigmoid())

# Generator 
G = nn.Sequential(
    nn.Linear(latent_size, hidden_size),
    nn.ReLU(),
    nn.Linear(hidden_size, hidden_size),
    nn.ReLU(),
    nn.Linear(hidden_size, image_size),
    nn.Tanh())

# Device setting
D = D.to(device)
G = G.to(device)

# Binary cross entropy loss and optimizer
criterion = nn.BCELoss()
d_optimizer = torch.optim.Adam(D.parameters(), lr=0.0002)
g_optimizer = torch.optim.Adam(G.parameters(), lr=0.0002)

def denorm(x):
    out = (x + 1) / 2
    return out.clamp(0, 1)

def reset_grad():
    d_optimizer.zero_grad()
    g_optimizer.zero_grad()

# Start training
total_step = len(data_loader)
for epoch in range(num_epochs):
    for i, (images, _) in enumerate(data_loader):
        images = images.reshape(batch_size, -1).to(device)
        
        # Create the labels which are later used as input for the BCE loss
        real_labels = torch.ones(batch_size, 1).to(device)
        fake_labels = torch.zeros(batch_size, 1).to(device)

        # ================================================================== #
        #                      Train the discriminator                       #
        # ================================================================== #

        # Compute BCE_Loss using real images where BCE_Loss(x, y): - y * log(D(x)) - (1-y) * log(1 - D(x))
        # Second term of the loss is always zero since real_labels == 1
        outputs = D(images)
        d_loss_real = criterion(outputs, real_labels)
        real_score = outputs
        
        # Compute BCELoss using fake images
        # First term of the loss is always zero since fake_labels == 0
        z = torch.randn(batch_size, latent_size).to(device)
        fake_images = G(z)
        outputs = D(fake_images)
        d_loss_fake = criterion(outputs, fake_labels)
        fake_score = outputs
        
        # Backprop and optimize
        d_loss = d_loss_real + d_loss_fake
        reset_grad()
        d_loss.backward()
        d_optimizer.step()
        
        # ================================================================== #
        #                        Train the generator                         #
        # ================================================================== #

        # Compute loss with fake images
        z = torch.randn(batch_size, latent_size).to(device)
        fake_images = G(z)
        outputs = D(fake_images)
        
        # We train G to maximize log(D(G(z)) instead of minimizing log(1-D(G(z)))
        # For the reason, see the last paragraph of section 3. https://arxiv.org/pdf/1406.2661.pdf
        g_loss = criterion(outputs, real_labels)
        
        # Backprop and optimize
        reset_grad()
        g_loss.backward()
        g_optimizer.step()
        
        if (i+1) % 200 == 0:
            print('Epoch [{}/{}], Step [{}/{}], d_loss: {:.4f}, g_loss: {:.4f}, D(x): {:.2f}, D(G(z)): {:.2f}' 
                  .format(epoch, num_epochs, i+1, total_step, d_loss.item(), g_loss.item(), 
                          real_score.mean().item(), fake_score.mean().item()))
    
    # Save real images
    if (epoch+1) == 1:
        images = images.reshape(images.size(0), 1, 28, 28)
        save_image(denorm(images), os.path.join(sample_dir, 'real_images.png'))
    
    # Save sampled images
    fake_images = fake_images.reshape(fake_images.size(0), 1, 28, 28)
    save_image(denorm(fake_images), os.path.join(sample_dir, 'fake_images-{}.png'.format(epoch+1)))

# Save the model checkpoints 
torch.save(G.state_dict(), 'G.ckpt')
torch.save(D.state_dict(), 'D.ckpt')'''


def _shrink(code: str, *pairs) -> str:
    """Substitute hyper-parameter lines; each must occur in the script."""
    for old, new in pairs:
        assert old in code, old
        code = code.replace(old, new)
    return code


def _class_source(code: str, name: str) -> str:
    """The source of the script's top-level ``class name`` (up to the next top-level line)."""
    start = code.index(f"class {name}(")
    end = re.compile(r"^\S", re.M).search(code, code.index("\n", start) + 1).start()
    return code[start:end]


@pytest.fixture
def mnist_dir(tmp_path, monkeypatch):
    """The scripts read ``root='../../data'``: run them two folders below the data."""
    write_mnist(tmp_path / "data", n_train=64, n_test=32)
    workdir = tmp_path / "tutorials" / "script"
    workdir.mkdir(parents=True)
    monkeypatch.chdir(workdir)
    return workdir


def _step_losses(out: str) -> list:
    return [float(v) for v in re.findall(r"Step \[\d+/\d+\], Loss: ([0-9.]+)", out)]


def test_logistic_regression(mnist_dir):
    code = _shrink(LOGISTIC_REGRESSION, ("num_epochs = 5", "num_epochs = 8"),
                   ("batch_size = 100", "batch_size = 16"),
                   ("learning_rate = 0.001", "learning_rate = 0.5"),
                   ("if (i+1) % 100 == 0:", "if (i+1) % 4 == 0:"))
    ns = run(code)
    out = ns["_stdout"]
    losses = _step_losses(out)
    assert len(losses) == 8 and "Epoch [8/8], Step [4/4]" in out, out
    assert losses[-1] < losses[0] / 2, losses
    # 100 * correct / total with correct a tensor: a 0-d float tensor, formatted as its value.
    accuracy = float(re.search(r"test images: ([0-9.]+) %", out).group(1))
    assert accuracy >= 80, out
    state = ember.load(mnist_dir / "model.ckpt")
    assert set(state) == {"weight", "bias"} and state["weight"].shape == (10, 784)


def test_convolutional_neural_network(mnist_dir):
    code = _shrink(CONVOLUTIONAL_NEURAL_NETWORK, ("num_epochs = 5", "num_epochs = 3"),
                   ("batch_size = 100", "batch_size = 16"),
                   ("learning_rate = 0.001", "learning_rate = 0.01"),
                   ("if (i+1) % 100 == 0:", "if (i+1) % 2 == 0:"))
    ns = run(code)
    out = ns["_stdout"]
    losses = _step_losses(out)
    assert len(losses) == 6, out
    assert losses[-1] < losses[0], losses
    accuracy = float(re.search(r"test images: ([0-9.]+) %", out).group(1))
    assert accuracy >= 50, out
    state = ember.load(mnist_dir / "model.ckpt")
    assert int(state["layer1.1.num_batches_tracked"]) == 12


def test_bidirectional_rnn(mnist_dir):
    code = _shrink(BIDIRECTIONAL_RNN, ("hidden_size = 128", "hidden_size = 16"),
                   ("batch_size = 100", "batch_size = 16"), ("num_epochs = 2", "num_epochs = 12"),
                   ("learning_rate = 0.003", "learning_rate = 0.02"),
                   ("if (i+1) % 100 == 0:", "if (i+1) % 4 == 0:"))
    ns = run(code)
    out = ns["_stdout"]
    losses = _step_losses(out)
    assert len(losses) == 12, out
    assert losses[-1] < losses[0] - 0.3, losses
    assert float(re.search(r"test images: ([0-9.]+) %", out).group(1)) >= 30, out
    state = ember.load(mnist_dir / "model.ckpt")
    assert state["lstm.weight_ih_l1_reverse"].shape == (64, 32)


def _write_text(path, n_lines=120, seed=0):
    rng = np.random.default_rng(seed)
    subjects, verbs, objects = ["the cat", "a dog", "my bird"], ["eats", "sees", "likes"], ["fish", "seeds", "bones"]
    lines = [f"{subjects[i % 3]} {verbs[rng.integers(3)]} {objects[i % 3]}" for i in range(n_lines)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


def test_language_model(tmp_path, monkeypatch):
    _write_text(tmp_path / "data" / "train.txt")
    monkeypatch.chdir(tmp_path)
    code = _shrink(LANGUAGE_MODEL, ("embed_size = 128", "embed_size = 16"),
                   ("hidden_size = 1024", "hidden_size = 32"), ("num_epochs = 5", "num_epochs = 6"),
                   ("num_samples = 1000", "num_samples = 200"), ("batch_size = 20", "batch_size = 4"),
                   ("seq_length = 30", "seq_length = 10"),
                   ("learning_rate = 0.002", "learning_rate = 0.02"))
    ns = run(code, modules={"data_utils": DATA_UTILS})
    out = ns["_stdout"]
    # 120 lines of 4 words and <eos>: 600 tokens, 150 a row; vocabulary of 12 words and <eos>.
    assert ns["vocab_size"] == 13 and tuple(ns["ids"].shape) == (4, 150)
    assert ns["ids"].dtype == ns["torch"].int64
    lines = re.findall(r"Epoch \[(\d)/6\], Step\[0/15\], Loss: ([0-9.]+), Perplexity: +([0-9.]+)", out)
    assert [int(e) for e, _, _ in lines] == [1, 2, 3, 4, 5, 6], out
    first, last = float(lines[0][1]), float(lines[-1][1])
    assert last < first - 1.0 and abs(float(lines[-1][2]) - np.exp(last)) < 0.01 * np.exp(last) + 0.01
    assert out.count("words and save to sample.txt") == 2
    sample = (tmp_path / "sample.txt").read_text()
    words = sample.split()
    assert len(words) + sample.count("\n") == 200
    # The trained model writes the text's sentences: subject, verb, object, end of line.
    sentences = [line.split() for line in sample.split("\n")[1:-1]]
    good = sum(len(s) == 4 and s[2] in ("eats", "sees", "likes") for s in sentences)
    assert good >= 0.7 * len(sentences), sample
    state = ember.load(tmp_path / "model.ckpt")
    assert state["lstm.weight_hh_l0"].shape == (128, 32)


@pytest.mark.filterwarnings("ignore:size_average and reduce args")
def test_variational_autoencoder(mnist_dir):
    code = _shrink(VARIATIONAL_AUTOENCODER, ("num_epochs = 15", "num_epochs = 4"),
                   ("batch_size = 128", "batch_size = 16"),
                   ("if (i+1) % 10 == 0:", "if (i+1) % 2 == 0:"))
    ns = run(code)
    out = ns["_stdout"]
    found = re.findall(r"Reconst Loss: ([0-9.]+), KL Div: ([0-9.]+)", out)
    assert len(found) == 8, out
    reconst = [float(r) for r, _ in found]
    assert reconst[-1] < 0.8 * reconst[0], reconst
    from PIL import Image
    for epoch in range(1, 5):
        sampled = Image.open(mnist_dir / "samples" / f"sampled-{epoch}.png")
        reconst_img = Image.open(mnist_dir / "samples" / f"reconst-{epoch}.png")
        # save_image's grid: 8 images a row, 2 pixels of padding around each.
        assert sampled.size == (8 * 30 + 2, 2 * 30 + 2)
        assert reconst_img.size == (8 * 58 + 2, 2 * 30 + 2)


def test_generative_adversarial_network(mnist_dir):
    code = _shrink(GENERATIVE_ADVERSARIAL_NETWORK, ("num_epochs = 200", "num_epochs = 3"),
                   ("batch_size = 100", "batch_size = 16"),
                   ("if (i+1) % 200 == 0:", "if (i+1) % 2 == 0:"))
    ns = run(code)
    out = ns["_stdout"]
    found = re.findall(r"d_loss: ([0-9.]+), g_loss: ([0-9.]+), D\(x\): ([0-9.]+), D\(G\(z\)\): ([0-9.]+)", out)
    assert len(found) == 6, out
    # The discriminator learns to tell the bars from the generator's noise.
    assert float(found[-1][2]) > float(found[-1][3]), found
    assert float(found[-1][0]) < float(found[0][0]), found
    files = sorted(p.name for p in (mnist_dir / "samples").iterdir())
    assert files == ["fake_images-1.png", "fake_images-2.png", "fake_images-3.png", "real_images.png"]
    g_state = ember.load(mnist_dir / "G.ckpt")
    assert g_state["4.weight"].shape == (784, 256)


def _on_torch(source: str, **env) -> dict:
    """Exec ``source`` (a class or a few statements cut out of a script) on real PyTorch."""
    import torch
    ns = {"torch": torch, "nn": torch.nn, "F": torch.nn.functional,
          "device": torch.device("cpu"), **env}
    exec(compile(source, "<yunjey-tutorial>", "exec"), ns)
    return ns


def _load_into(ref, model) -> None:
    import torch
    ref.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in model.state_dict().items()})


def _assert_grads_match(model, ref, atol):
    ref_params = dict(ref.named_parameters())
    for name, p in model.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), ref_params[name].grad.numpy(), atol=atol,
                                   err_msg=name)


def test_trained_cnn_and_birnn_match_torch(mnist_dir):
    torch = pytest.importorskip("torch")
    images = np.random.default_rng(1).random((6, 1, 28, 28))
    labels = [0, 3, 9, 1, 1, 5]
    ns = run(_shrink(CONVOLUTIONAL_NEURAL_NETWORK, ("num_epochs = 5", "num_epochs = 1"),
                     ("batch_size = 100", "batch_size = 32")))
    cnn = ns["model"]
    ref_cnn = _on_torch(_class_source(CONVOLUTIONAL_NEURAL_NETWORK, "ConvNet"))["ConvNet"](10)
    _load_into(ref_cnn, cnn)
    # In float64: in float32, BatchNorm's batch statistics of a trained model amplify rounding
    # into gradients that differ by a few percent from PyTorch's own.
    cnn.double()
    ref_cnn.double()
    # BiRNN.forward makes its initial states with torch.zeros: float32 only.
    ns = run(_shrink(BIDIRECTIONAL_RNN, ("hidden_size = 128", "hidden_size = 16"),
                     ("num_epochs = 2", "num_epochs = 1"), ("batch_size = 100", "batch_size = 32")))
    rnn = ns["model"]
    ref_rnn = _on_torch(_class_source(BIDIRECTIONAL_RNN, "BiRNN"))["BiRNN"](28, 16, 2, 10)
    _load_into(ref_rnn, rnn)
    rows = images.reshape(-1, 28, 28).astype(np.float32)
    for model, ref, x, tol in ((cnn, ref_cnn, images, 1e-12), (rnn, ref_rnn, rows, 1e-6)):
        for train in (True, False):
            model.train(train)
            ref.train(train)
            model.zero_grad()
            ref.zero_grad()
            out, ref_out = model(ember.tensor(x)), ref(torch.tensor(x))
            np.testing.assert_allclose(out.detach().numpy(), ref_out.detach().numpy(), atol=tol,
                                       err_msg=f"{type(model).__name__} train={train}")
            ember.nn.functional.cross_entropy(out, ember.tensor(labels)).backward()
            torch.nn.functional.cross_entropy(ref_out, torch.tensor(labels)).backward()
            _assert_grads_match(model, ref, tol)


def test_trained_language_model_matches_torch(tmp_path, monkeypatch):
    torch = pytest.importorskip("torch")
    _write_text(tmp_path / "data" / "train.txt")
    monkeypatch.chdir(tmp_path)
    code = _shrink(LANGUAGE_MODEL, ("embed_size = 128", "embed_size = 16"),
                   ("hidden_size = 1024", "hidden_size = 32"), ("num_epochs = 5", "num_epochs = 1"),
                   ("num_samples = 1000", "num_samples = 10"), ("batch_size = 20", "batch_size = 4"),
                   ("seq_length = 30", "seq_length = 10"))
    ns = run(code, modules={"data_utils": DATA_UTILS})
    model, ids = ns["model"], ns["ids"]
    ref = _on_torch(_class_source(LANGUAGE_MODEL, "RNNLM"))["RNNLM"](13, 16, 32, 1)
    _load_into(ref, model)
    model.zero_grad()  # the script's last step leaves its gradients
    inputs, targets = ids[:, :10], ids[:, 1:11]
    ref_inputs = torch.from_numpy(inputs.numpy().copy())
    h = (ember.randn(1, 4, 32), ember.randn(1, 4, 32))
    ref_h = tuple(torch.from_numpy(t.numpy().copy()) for t in h)
    out, (hn, cn) = model(inputs, h)
    ref_out, (ref_hn, ref_cn) = ref(ref_inputs, ref_h)
    for a, b in ((out, ref_out), (hn, ref_hn), (cn, ref_cn)):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), atol=1e-5)
    ember.nn.functional.cross_entropy(out, targets.reshape(-1)).backward()
    torch.nn.functional.cross_entropy(ref_out, torch.from_numpy(targets.numpy().copy()).reshape(-1)).backward()
    norm = ember.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
    ref_norm = torch.nn.utils.clip_grad_norm_(ref.parameters(), 0.5)
    assert abs(norm.item() - ref_norm.item()) < 1e-5 * ref_norm.item()
    _assert_grads_match(model, ref, 1e-6)


@pytest.mark.filterwarnings("ignore:size_average and reduce args")
def test_trained_vae_and_gan_match_torch(mnist_dir):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(2).random((5, 784)).astype(np.float32)
    ns = run(_shrink(VARIATIONAL_AUTOENCODER, ("num_epochs = 15", "num_epochs = 1"),
                     ("batch_size = 128", "batch_size = 32")))
    model = ns["model"]
    ref = _on_torch(_class_source(VARIATIONAL_AUTOENCODER, "VAE"))["VAE"]()
    _load_into(ref, model)
    model.zero_grad()
    # The loss of the script with the sampled z replaced by the mean (randn_like differs).
    mu, log_var = model.encode(ember.tensor(x))
    ref_mu, ref_log_var = ref.encode(torch.tensor(x))
    x_reconst, ref_x_reconst = model.decode(mu), ref.decode(ref_mu)
    F, ref_F = ember.nn.functional, torch.nn.functional
    loss = (F.binary_cross_entropy(x_reconst, ember.tensor(x), size_average=False)
            - 0.5 * ember.sum(1 + log_var - mu.pow(2) - log_var.exp()))
    ref_loss = (ref_F.binary_cross_entropy(ref_x_reconst, torch.tensor(x), reduction="sum")
                - 0.5 * torch.sum(1 + ref_log_var - ref_mu.pow(2) - ref_log_var.exp()))
    assert abs(loss.item() - ref_loss.item()) < 1e-5 * abs(ref_loss.item())
    loss.backward()
    ref_loss.backward()
    scale = max(float(p.grad.abs().max()) for p in ref.parameters())
    _assert_grads_match(model, ref, 1e-5 * scale)

    code = _shrink(GENERATIVE_ADVERSARIAL_NETWORK, ("num_epochs = 200", "num_epochs = 1"),
                   ("batch_size = 100", "batch_size = 32"))
    ns = run(code)
    nets = code[code.index("# Discriminator"):code.index("# Device setting")]
    ref_ns = _on_torch(nets, latent_size=64, hidden_size=256, image_size=784)
    for name in ("D", "G"):
        _load_into(ref_ns[name], ns[name])
        ns[name].zero_grad()
    z = np.random.default_rng(3).standard_normal((5, 64)).astype(np.float32)
    fake, ref_fake = ns["G"](ember.tensor(z)), ref_ns["G"](torch.tensor(z))
    score, ref_score = ns["D"](fake), ref_ns["D"](ref_fake)
    np.testing.assert_allclose(score.detach().numpy(), ref_score.detach().numpy(), atol=1e-6)
    ember.nn.BCELoss()(score, ember.ones(5, 1)).backward()
    torch.nn.BCELoss()(ref_score, torch.ones(5, 1)).backward()
    for name in ("D", "G"):
        _assert_grads_match(ns[name], ref_ns[name], 1e-6)
