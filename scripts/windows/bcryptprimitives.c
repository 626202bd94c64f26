/*
 * A stand-in for Windows' bcryptprimitives.dll, for running the tools
 * under Wine 8 in CI only (never shipped). Rust's standard library (1.78
 * and later) draws its random numbers from ProcessPrng, which Windows 10
 * and later have and Wine 8 lacks; this forwards it to RtlGenRandom
 * (advapi32's SystemFunction036), which Wine has.
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length > 0) {
        ULONG chunk = length > 0x10000000 ? 0x10000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
