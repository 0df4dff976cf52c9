/*
 * Test-only stand-in for Windows' bcryptprimitives.dll, for running the host under Wine 8.0.
 *
 * Rust's standard library (1.78 and later) takes its random numbers from ProcessPrng in
 * bcryptprimitives.dll, which Windows 10 and 11 export and Wine 8.0 (Debian 12) does not: the
 * exe then fails to load. This DLL exports ProcessPrng and fills the buffer from the system
 * RNG through BCryptGenRandom, which Wine implements. It is never shipped: real Windows has
 * its own. Built by tests/windows/run.sh with mingw-w64.
 */
#include <windows.h>
#include <bcrypt.h>

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length > 0) {
        ULONG chunk = length > 0x40000000 ? 0x40000000 : (ULONG)length;
        if (!BCRYPT_SUCCESS(BCryptGenRandom(NULL, data, chunk, BCRYPT_USE_SYSTEM_PREFERRED_RNG)))
            return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
