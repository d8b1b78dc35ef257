"""The course's DCGAN in PyTorch (CPU) with the discriminator step in two
passes (a batch of real images, then a batch of fakes), as nntrain's gan and
the DCGAN reference code do it: a quality reference for nntrain's
dcgan-mnist preset, where the speed anchor torch_dcgan.py (one pass of real
and fake together) is a speed reference only.
Usage: python3 torch_dcgan_2pass.py MNIST_RAW_DIR EPOCHS THREADS OUT_DIR [N_SAMPLES]
Nets, optimizer, batch as the anchor: G z(100) -> dense 7*7*128 -> BN -> ReLU
-> deconv 64 5x5 s2 -> BN -> ReLU -> deconv 1 5x5 s2 -> tanh; D conv 64 5x5 s2
-> LeakyReLU 0.2 -> conv 128 5x5 s2 -> BN -> LeakyReLU 0.2 -> dense 1; Adam
2e-4 / 0.5; B=128: B/2 real + B/2 fake for D, B fake for G (non-saturating).
After every epoch, OUT_DIR/epoch_N/t10k-images-idx3-ubyte holds N_SAMPLES
(10,000) samples of G in eval mode as an IDX test split (labels all 0), with
the real training files linked next to it, for nntrain gan-score --data
mnist:OUT_DIR/epoch_N."""
import os, sys, time, struct, numpy as np, torch, torch.nn as nn
d, epochs, threads, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
nsamp = int(sys.argv[5]) if len(sys.argv) > 5 else 10000
torch.set_num_threads(threads); torch.manual_seed(0)
with open(f'{d}/train-images-idx3-ubyte', 'rb') as f:
    f.read(16); X = np.frombuffer(f.read(), dtype=np.uint8).reshape(-1, 1, 28, 28)
N = len(X)
X = torch.tensor(X, dtype=torch.float32).div_(127.5).sub_(1.0)
G = nn.Sequential(nn.Linear(100, 7 * 7 * 128, bias=False), nn.BatchNorm1d(7 * 7 * 128), nn.ReLU(), nn.Unflatten(1, (128, 7, 7)),
                  nn.ConvTranspose2d(128, 64, 5, 2, 2, output_padding=1, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
                  nn.ConvTranspose2d(64, 1, 5, 2, 2, output_padding=1), nn.Tanh())
D = nn.Sequential(nn.Conv2d(1, 64, 5, 2, 2), nn.LeakyReLU(0.2), nn.Conv2d(64, 128, 5, 2, 2, bias=False), nn.BatchNorm2d(128),
                  nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(128 * 7 * 7, 1))
oG = torch.optim.Adam(G.parameters(), 2e-4, betas=(0.5, 0.999)); oD = torch.optim.Adam(D.parameters(), 2e-4, betas=(0.5, 0.999))
bce = nn.BCEWithLogitsLoss(); B = 128; h = B // 2
ones, zeros = torch.ones(h, 1), torch.zeros(h, 1)

def dump(ep):
    G.eval()
    with torch.no_grad():
        s = G(torch.randn(nsamp, 100)).add(1).mul(127.5).clamp(0, 255).round().to(torch.uint8).squeeze(1).numpy()
    G.train()
    o = f'{out}/epoch_{ep}'; os.makedirs(o, exist_ok=True)
    with open(f'{o}/t10k-images-idx3-ubyte', 'wb') as f:
        f.write(struct.pack('>IIII', 2051, nsamp, 28, 28)); f.write(s.tobytes())
    with open(f'{o}/t10k-labels-idx1-ubyte', 'wb') as f:
        f.write(struct.pack('>II', 2049, nsamp)); f.write(bytes(nsamp))
    for name in ('train-images-idx3-ubyte', 'train-labels-idx1-ubyte'):
        if not os.path.exists(f'{o}/{name}'): os.symlink(os.path.abspath(f'{d}/{name}'), f'{o}/{name}')

for ep in range(epochs):
    t0 = time.time(); perm = torch.randperm(N); dr = df = 0.0; steps = 0
    for i in range(0, N - h + 1, h):
        real = X[perm[i:i + h]]
        fake = G(torch.randn(h, 100)).detach()
        oD.zero_grad()
        lr_ = bce(D(real), ones); lf_ = bce(D(fake), zeros)
        ((lr_ + lf_) / 2).backward(); oD.step()
        oG.zero_grad(); l_g = bce(D(G(torch.randn(B, 100))), torch.ones(B, 1)); l_g.backward(); oG.step()
        dr += lr_.item(); df += lf_.item(); steps += 1
    tt = time.time() - t0
    print(f'epoch {ep+1} d_loss_real {dr/steps:.4f} d_loss_fake {df/steps:.4f} train_s {tt:.1f} img_per_s {steps*h/tt:.0f}', flush=True)
    dump(ep + 1)
