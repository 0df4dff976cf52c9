/*
 * Test-only winscard.dll for running the Windows host under Wine with the virtual card.
 *
 * Wine 8.0's winscard.dll is a stub (SCardEstablishContext fails), so the Windows build can
 * never see a reader there. This DLL stands in for it with one reader, "CPx Virtual Reader 0",
 * whose card is the project's virtual card (tests/virtual-card) speaking the vpcd protocol: the
 * DLL listens on 127.0.0.1:$CPX_VPCD_PORT as pcscd's vpcd driver does, and `cpx-virtual-card
 * --port $CPX_VPCD_PORT` connects to it. Frames are a 2-byte big-endian length then the payload;
 * a 1-byte payload is a control code (00 power off, 01 power on, 02 reset, 04 ATR request,
 * answered with the ATR), anything else a command APDU answered with its response APDU.
 *
 * Only what the host imports is implemented (SCardEstablishContext ... SCardTransmit), for one
 * context and one card handle, with the return codes WinSCard documents. It is never shipped.
 * The protocol is negotiated from the card's ATR as a reader does (ISO 7816-3: the protocols
 * the TDi bytes name, T=0 alone when there is no TD1), T=1 preferred when both are offered and
 * asked for, as pcsc-lite does: a CPS3 runs under T=0, a production CPS4 under T=1.
 * Built by tests/windows/run.sh with mingw-w64.
 */
#define WINSCARDAPI __declspec(dllexport)
#define WINSCARDDATA __declspec(dllexport)
#include <winsock2.h>
#include <windows.h>
#include <winscard.h>
#include <stdlib.h>
#include <string.h>

const SCARD_IO_REQUEST g_rgSCardT0Pci = {SCARD_PROTOCOL_T0, sizeof(SCARD_IO_REQUEST)};
const SCARD_IO_REQUEST g_rgSCardT1Pci = {SCARD_PROTOCOL_T1, sizeof(SCARD_IO_REQUEST)};
const SCARD_IO_REQUEST g_rgSCardRawPci = {SCARD_PROTOCOL_RAW, sizeof(SCARD_IO_REQUEST)};

static const char READER[] = "CPx Virtual Reader 0";
#define CONTEXT ((SCARDCONTEXT)0x5c0de)
#define HANDLE_ ((SCARDHANDLE)0x5ca4d)

static SOCKET card = INVALID_SOCKET;
static BYTE atr[36];
static DWORD atr_length;
static BOOL connected;
static DWORD active_protocol;

/* The protocols the ATR offers, as SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1 bits. */
static DWORD offered_protocols(void)
{
    DWORD offered = 0, index = 2;
    BYTE indicator;
    if (atr_length < 2)
        return SCARD_PROTOCOL_T0;
    indicator = atr[1] >> 4;
    for (;;) {
        BYTE td;
        index += ((indicator & 1) != 0) + ((indicator & 2) != 0) + ((indicator & 4) != 0);
        if (!(indicator & 8) || index >= atr_length)
            break;
        td = atr[index++];
        if ((td & 0x0F) == 0)
            offered |= SCARD_PROTOCOL_T0;
        else if ((td & 0x0F) == 1)
            offered |= SCARD_PROTOCOL_T1;
        indicator = td >> 4;
    }
    return offered ? offered : SCARD_PROTOCOL_T0;
}

/* The protocol a reader would agree on with this card among those asked for, or 0. */
static DWORD negotiate(DWORD asked)
{
    DWORD possible = offered_protocols() & asked;
    if (possible & SCARD_PROTOCOL_T1)
        return SCARD_PROTOCOL_T1;
    return possible & SCARD_PROTOCOL_T0;
}

static BOOL send_all(const BYTE *data, int length)
{
    while (length > 0) {
        int sent = send(card, (const char *)data, length, 0);
        if (sent <= 0)
            return FALSE;
        data += sent;
        length -= sent;
    }
    return TRUE;
}

static BOOL receive_all(BYTE *data, int length)
{
    while (length > 0) {
        int got = recv(card, (char *)data, length, 0);
        if (got <= 0)
            return FALSE;
        data += got;
        length -= got;
    }
    return TRUE;
}

/* The card went away (or never came): the reader is empty from now on. */
static void card_gone(void)
{
    if (card != INVALID_SOCKET)
        closesocket(card);
    card = INVALID_SOCKET;
    atr_length = 0;
    connected = FALSE;
}

static BOOL send_frame(const BYTE *payload, DWORD length)
{
    BYTE header[2] = {(BYTE)(length >> 8), (BYTE)length};
    if (length > 0xFFFF || !send_all(header, 2) || !send_all(payload, (int)length)) {
        card_gone();
        return FALSE;
    }
    return TRUE;
}

/* Reads one frame into buffer (capacity bytes); its length, or -1 when the card is gone. */
static long receive_frame(BYTE *buffer, DWORD capacity)
{
    BYTE header[2];
    DWORD length;
    if (!receive_all(header, 2)) {
        card_gone();
        return -1;
    }
    length = ((DWORD)header[0] << 8) | header[1];
    if (length > capacity || !receive_all(buffer, (int)length)) {
        card_gone();
        return -1;
    }
    return (long)length;
}

/* Powers the card on and reads its ATR. */
static BOOL power_on(void)
{
    BYTE control = 0x01;
    long length;
    if (!send_frame(&control, 1))
        return FALSE;
    control = 0x04;
    if (!send_frame(&control, 1))
        return FALSE;
    length = receive_frame(atr, sizeof(atr));
    if (length <= 0) {
        card_gone();
        return FALSE;
    }
    atr_length = (DWORD)length;
    return TRUE;
}

/* Listens on the vpcd port and waits (CPX_VPCD_WAIT_MS, default 20 s) for the card. */
static void wait_for_card(void)
{
    const char *port_text = getenv("CPX_VPCD_PORT");
    const char *wait_text = getenv("CPX_VPCD_WAIT_MS");
    long wait_ms = wait_text ? atol(wait_text) : 20000;
    struct sockaddr_in address;
    struct timeval timeout;
    fd_set readable;
    SOCKET listener;
    BOOL yes = TRUE;

    if (card != INVALID_SOCKET || port_text == NULL)
        return;
    listener = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    if (listener == INVALID_SOCKET)
        return;
    memset(&address, 0, sizeof(address));
    address.sin_family = AF_INET;
    address.sin_port = htons((u_short)atoi(port_text));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, (const char *)&yes, sizeof(yes));
    if (bind(listener, (struct sockaddr *)&address, sizeof(address)) != 0 || listen(listener, 1) != 0) {
        closesocket(listener);
        return;
    }
    FD_ZERO(&readable);
    FD_SET(listener, &readable);
    timeout.tv_sec = wait_ms / 1000;
    timeout.tv_usec = (wait_ms % 1000) * 1000;
    if (select(0, &readable, NULL, NULL, &timeout) == 1) {
        card = accept(listener, NULL, NULL);
        if (card != INVALID_SOCKET) {
            setsockopt(card, IPPROTO_TCP, TCP_NODELAY, (const char *)&yes, sizeof(yes));
            if (!power_on())
                card_gone();
        }
    }
    closesocket(listener);
}

LONG WINAPI SCardEstablishContext(DWORD scope, LPCVOID reserved1, LPCVOID reserved2, LPSCARDCONTEXT context)
{
    WSADATA wsa;
    (void)scope; (void)reserved1; (void)reserved2;
    if (context == NULL)
        return SCARD_E_INVALID_PARAMETER;
    if (WSAStartup(MAKEWORD(2, 2), &wsa) != 0)
        return SCARD_E_NO_SERVICE;
    wait_for_card();
    *context = CONTEXT;
    return SCARD_S_SUCCESS;
}

LONG WINAPI SCardReleaseContext(SCARDCONTEXT context)
{
    return context == CONTEXT ? SCARD_S_SUCCESS : SCARD_E_INVALID_HANDLE;
}

LONG WINAPI SCardIsValidContext(SCARDCONTEXT context)
{
    return context == CONTEXT ? SCARD_S_SUCCESS : SCARD_E_INVALID_HANDLE;
}

/* One reader, as a multi-string: the name, then an empty string. */
LONG WINAPI SCardListReadersA(SCARDCONTEXT context, LPCSTR groups, LPSTR readers, LPDWORD length)
{
    DWORD needed = sizeof(READER) + 1;
    (void)groups;
    if (context != CONTEXT)
        return SCARD_E_INVALID_HANDLE;
    if (length == NULL)
        return SCARD_E_INVALID_PARAMETER;
    if (readers == NULL) {
        *length = needed;
        return SCARD_S_SUCCESS;
    }
    if (*length < needed) {
        *length = needed;
        return SCARD_E_INSUFFICIENT_BUFFER;
    }
    memcpy(readers, READER, sizeof(READER));
    readers[sizeof(READER)] = '\0';
    *length = needed;
    return SCARD_S_SUCCESS;
}

LONG WINAPI SCardGetStatusChangeA(SCARDCONTEXT context, DWORD timeout, LPSCARD_READERSTATEA states, DWORD count)
{
    BOOL changed = FALSE;
    DWORD i;
    if (context != CONTEXT)
        return SCARD_E_INVALID_HANDLE;
    for (i = 0; i < count; i++) {
        SCARD_READERSTATEA *state = &states[i];
        DWORD now;
        if (strcmp(state->szReader, READER) != 0) {
            state->dwEventState = SCARD_STATE_UNKNOWN | SCARD_STATE_CHANGED | SCARD_STATE_IGNORE;
            continue;
        }
        now = card != INVALID_SOCKET ? SCARD_STATE_PRESENT : SCARD_STATE_EMPTY;
        if (card != INVALID_SOCKET && connected)
            now |= SCARD_STATE_INUSE;
        state->cbAtr = atr_length;
        memcpy(state->rgbAtr, atr, atr_length);
        if ((state->dwCurrentState & ~SCARD_STATE_CHANGED & 0xFFFF) != now) {
            now |= SCARD_STATE_CHANGED;
            changed = TRUE;
        }
        state->dwEventState = now;
    }
    if (changed || timeout == 0)
        return changed ? SCARD_S_SUCCESS : SCARD_E_TIMEOUT;
    /* Nothing changes by itself here except the card leaving, which transmit notices. */
    Sleep(timeout == INFINITE ? 1000 : (timeout < 1000 ? timeout : 1000));
    return SCARD_E_TIMEOUT;
}

LONG WINAPI SCardConnectA(SCARDCONTEXT context, LPCSTR reader, DWORD share, DWORD protocols, LPSCARDHANDLE handle, LPDWORD active)
{
    (void)share;
    if (context != CONTEXT)
        return SCARD_E_INVALID_HANDLE;
    if (reader == NULL || strcmp(reader, READER) != 0)
        return SCARD_E_UNKNOWN_READER;
    if (card == INVALID_SOCKET)
        return SCARD_E_NO_SMARTCARD;
    active_protocol = negotiate(protocols);
    if (active_protocol == 0)
        return SCARD_E_PROTO_MISMATCH;
    connected = TRUE;
    *handle = HANDLE_;
    if (active)
        *active = active_protocol;
    return SCARD_S_SUCCESS;
}

static LONG card_handle(SCARDHANDLE handle)
{
    if (handle != HANDLE_ || !connected)
        return SCARD_E_INVALID_HANDLE;
    if (card == INVALID_SOCKET)
        return SCARD_W_REMOVED_CARD;
    return SCARD_S_SUCCESS;
}

LONG WINAPI SCardReconnect(SCARDHANDLE handle, DWORD share, DWORD protocols, DWORD initialization, LPDWORD active)
{
    LONG status = card_handle(handle);
    (void)share;
    if (status != SCARD_S_SUCCESS)
        return status;
    if (initialization != SCARD_LEAVE_CARD && !power_on())
        return SCARD_W_REMOVED_CARD;
    active_protocol = negotiate(protocols);
    if (active_protocol == 0)
        return SCARD_E_PROTO_MISMATCH;
    if (active)
        *active = active_protocol;
    return SCARD_S_SUCCESS;
}

LONG WINAPI SCardDisconnect(SCARDHANDLE handle, DWORD disposition)
{
    if (handle != HANDLE_ || !connected)
        return SCARD_E_INVALID_HANDLE;
    connected = FALSE;
    if (card != INVALID_SOCKET && disposition != SCARD_LEAVE_CARD)
        power_on();
    return SCARD_S_SUCCESS;
}

LONG WINAPI SCardBeginTransaction(SCARDHANDLE handle)
{
    return card_handle(handle);
}

LONG WINAPI SCardEndTransaction(SCARDHANDLE handle, DWORD disposition)
{
    LONG status = card_handle(handle);
    if (status == SCARD_S_SUCCESS && disposition != SCARD_LEAVE_CARD && !power_on())
        return SCARD_W_REMOVED_CARD;
    return status;
}

LONG WINAPI SCardStatusA(SCARDHANDLE handle, LPSTR names, LPDWORD names_length, LPDWORD state, LPDWORD protocol, LPBYTE atr_out, LPDWORD atr_out_length)
{
    LONG status = card_handle(handle);
    DWORD needed = sizeof(READER) + 1;
    if (status != SCARD_S_SUCCESS)
        return status;
    if (names_length) {
        if (names && *names_length >= needed) {
            memcpy(names, READER, sizeof(READER));
            names[sizeof(READER)] = '\0';
        } else if (names) {
            *names_length = needed;
            return SCARD_E_INSUFFICIENT_BUFFER;
        }
        *names_length = needed;
    }
    if (atr_out_length) {
        if (atr_out && *atr_out_length >= atr_length)
            memcpy(atr_out, atr, atr_length);
        else if (atr_out) {
            *atr_out_length = atr_length;
            return SCARD_E_INSUFFICIENT_BUFFER;
        }
        *atr_out_length = atr_length;
    }
    if (state)
        *state = SCARD_SPECIFIC;
    if (protocol)
        *protocol = active_protocol;
    return SCARD_S_SUCCESS;
}

LONG WINAPI SCardTransmit(SCARDHANDLE handle, LPCSCARD_IO_REQUEST send_pci, LPCBYTE command, DWORD command_length, LPSCARD_IO_REQUEST receive_pci, LPBYTE response, LPDWORD response_length)
{
    BYTE answer[65538];
    long length;
    LONG status = card_handle(handle);
    (void)receive_pci;
    if (status != SCARD_S_SUCCESS)
        return status;
    if (command == NULL || command_length < 4 || response == NULL || response_length == NULL)
        return SCARD_E_INVALID_PARAMETER;
    /* WinSCard refuses a PCI of another protocol than the one negotiated. */
    if (send_pci == NULL || send_pci->dwProtocol != active_protocol)
        return SCARD_E_INVALID_PARAMETER;
    if (!send_frame(command, command_length))
        return SCARD_W_REMOVED_CARD;
    length = receive_frame(answer, sizeof(answer));
    if (length < 0)
        return SCARD_W_REMOVED_CARD;
    if ((DWORD)length > *response_length) {
        *response_length = (DWORD)length;
        return SCARD_E_INSUFFICIENT_BUFFER;
    }
    memcpy(response, answer, (size_t)length);
    *response_length = (DWORD)length;
    return SCARD_S_SUCCESS;
}
