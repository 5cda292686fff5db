// Included first by every private header (the parts of a kernel folder such as kernels/gemm/,
// and detail/ folders): a private part is reached only through the public header in front of
// it, which defines TESSERA_PUBLIC_FRONT before it includes its parts (Eigen's
// InternalHeaderCheck idea). The header self-containment check skips headers that include
// this file.
// No include guard: the check runs at every inclusion.
#ifndef TESSERA_PUBLIC_FRONT
#error "tessera: this is a private header; include the public header in front of it (for example <tessera/kernels/gemm.hpp>)"
#endif
