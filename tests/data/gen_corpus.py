#!/usr/bin/env python3
"""Write the seed corpus of the IDX fuzz target (tests/data/corpus/): small valid IDX
files, plain and gzip'ed (one with two gzip members). Run from tests/data/."""
import gzip
import os
import struct


def idx(dims, body):
    return bytes([0, 0, 8, len(dims)]) + struct.pack('>' + 'I' * len(dims), *dims) + bytes(body)


def gz(b):
    return gzip.compress(b, 9, mtime=0)


os.makedirs('corpus', exist_ok=True)
os.chdir('corpus')
files = {
    'labels_1d.idx': idx([7], [3, 1, 4, 1, 5, 9, 2]),
    'images_3d.idx': idx([2, 3, 4], [(i * 37) % 256 for i in range(24)]),
    'single.idx': idx([1], [255]),
    'dims_4d.idx': idx([2, 1, 2, 3], range(12)),
    'mnist_like.idx': idx([2, 28, 28], [(i * 13) % 256 if (i % 28) > 4 else 0 for i in range(2 * 784)]),
}
for name, data in files.items():
    open(name, 'wb').write(data)
open('images_3d.idx.gz', 'wb').write(gz(files['images_3d.idx']))
open('mnist_like.idx.gz', 'wb').write(gz(files['mnist_like.idx']))
b = files['labels_1d.idx']
open('labels_two_members.idx.gz', 'wb').write(gz(b[:6]) + gz(b[6:]))
