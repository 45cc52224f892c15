// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stdio.h>
#include <sgbpf/sgbpf.h>
int main(void) { printf("sgbpf %s\n", sgbpf_version()); return 0; }
