/*
 * calfload DIY insole — reference firmware for the open insole profile v1.
 *
 * Board:  Seeed Studio XIAO nRF52840 Sense (on-board LSM6DS3TR-C IMU).
 * Core:   "Seeed nRF52 Boards" (Seeed's fork of the Adafruit nRF52 Arduino core;
 *         board "Seeed XIAO nRF52840 Sense"), NOT the "mbed-enabled" package.
 *         BLE goes through that core's Bluefruit library (bluefruit.h).
 * Library: "Seeed Arduino LSM6DS3" (Library Manager) for the IMU.
 *
 * What it does (hardware.md, "Open insole profile, version 1" and "DIY insole"):
 *   - advertises the profile's 128-bit service as CALF-INSOLE-<side>-<id>;
 *   - samples N_CELLS force-sensing resistors and the IMU at the requested
 *     rate (default 100 Hz) on a µs sensor clock;
 *   - streams data notifications in exactly the profile v1 layout, encoded by
 *     open_insole_packet.c (the same code the host tests check against the
 *     Python decoder), with a u16 notification counter;
 *   - honours the control commands 01 (start), 00 (stop), 02 <u16 rate_hz>.
 *
 * Only the portable parts (open_insole_packet.c, insole_signal.c) are compiled
 * and tested in calfload's CI; this file needs the Arduino toolchain.
 */
#include <Arduino.h>
#include <LSM6DS3.h>
#include <Wire.h>
#include <bluefruit.h>

#include "calibration.h"
#include "insole_signal.h"
#include "open_insole_packet.h"

// ---------------------------------------------------------------- configuration
// Side letter in the advertised name, so left and right are told apart in `calfload scan`.
#define INSOLE_SIDE "L"
// 1: eight FSRs through a 74HC4051 analog multiplexer into A0 (select lines D1, D2, D3).
// 0: up to six FSRs straight into A0..A5, one divider resistor each.
#define USE_MUX 1
#define N_CELLS 8
// Fixed divider resistor from the analog pin to GND, in ohms (10 kΩ suits FSR 402 up to ~100 N per cell).
#define R_FIXED_OHM 10000.0
#define ADC_BITS 12
#define DEFAULT_RATE_HZ 100
#define SEND_IMU 1

#if USE_MUX
static const uint8_t kMuxPin = A0;
static const uint8_t kMuxSelect[3] = {D1, D2, D3};
#else
// Cell i of the profile's cell map is wired to kCellPins[i].
static const uint8_t kCellPins[6] = {A0, A1, A2, A3, A4, A5};
#endif

// How the XIAO is mounted: insole axis i = sign[i] * sensor axis axis[i]. The default is the
// LSM6DS3's own axes; set these for your mounting and check them as hardware.md describes
// (flat and still: acc = (0, 0, +9.8); toes down: x = -9.8; athlete's left side up: y = +9.8).
static const uint8_t kAxis[3] = {0, 1, 2};
static const int8_t kSign[3] = {1, 1, 1};

static const double kGain[8] = INSOLE_CAL_GAIN_N_PER_US;
static const double kZero[8] = INSOLE_CAL_ZERO_US;

// ---------------------------------------------------------------- GATT
// c0a1f000-0d5e-4c8a-9b1e-5e4f0a7c1a00 and siblings; Bluefruit wants the bytes LSB first.
static const uint8_t kServiceUuid[16] = {0x00, 0x1a, 0x7c, 0x0a, 0x4f, 0x5e, 0x1e, 0x9b,
                                         0x8a, 0x4c, 0x5e, 0x0d, 0x00, 0xf0, 0xa1, 0xc0};
static const uint8_t kDataUuid[16] = {0x00, 0x1a, 0x7c, 0x0a, 0x4f, 0x5e, 0x1e, 0x9b,
                                      0x8a, 0x4c, 0x5e, 0x0d, 0x01, 0xf0, 0xa1, 0xc0};
static const uint8_t kControlUuid[16] = {0x00, 0x1a, 0x7c, 0x0a, 0x4f, 0x5e, 0x1e, 0x9b,
                                         0x8a, 0x4c, 0x5e, 0x0d, 0x02, 0xf0, 0xa1, 0xc0};

BLEService insoleService(kServiceUuid);
BLECharacteristic dataChar(kDataUuid);
BLECharacteristic controlChar(kControlUuid);
LSM6DS3 imu(I2C_MODE, 0x6A);

// ---------------------------------------------------------------- state
// Written by the BLE callbacks, read by loop().
static volatile bool gStartRequested = false;
static volatile bool gStopRequested = false;
static volatile uint16_t gRequestedRate = DEFAULT_RATE_HZ;
static volatile bool gRateChanged = false;
static volatile uint16_t gMaxNotifyLen = 20;  // ATT MTU 23 until the exchange

static bool gStreaming = false;
static uint16_t gRateHz = DEFAULT_RATE_HZ;
static uint16_t gSeq = 0;  // survives stop/start so the bridge sees one counter
static uint32_t gNextUs = 0;
static uint32_t gNotifyFailures = 0;
static oi_batcher_t gBatcher;
static oi_packet_t gPackets[2];

static void onControlWrite(uint16_t conn, BLECharacteristic* chr, uint8_t* data, uint16_t len) {
  (void)conn;
  (void)chr;
  uint16_t rate = 0;
  switch (oi_parse_command(data, len, &rate)) {
    case OI_COMMAND_START: gStartRequested = true; break;
    case OI_COMMAND_STOP: gStopRequested = true; break;
    case OI_COMMAND_SET_RATE:
      gRequestedRate = oi_clamp_rate_hz(rate);
      gRateChanged = true;
      break;
    default: break;  // unknown command: ignored (the profile defines no error reply)
  }
}

static void onConnect(uint16_t conn) {
  BLEConnection* c = Bluefruit.Connection(conn);
  c->requestMtuExchange(247);
  c->requestConnectionParameter(12);  // 15 ms (units of 1.25 ms)
}

static void onDisconnect(uint16_t conn, uint8_t reason) {
  (void)conn;
  (void)reason;
  gStopRequested = true;
  gMaxNotifyLen = 20;
}

static void startAdvertising() {
  Bluefruit.Advertising.addFlags(BLE_GAP_ADV_FLAGS_LE_ONLY_GENERAL_DISC_MODE);
  Bluefruit.Advertising.addService(insoleService);  // 128-bit UUID in the advertisement
  Bluefruit.ScanResponse.addName();                 // the name in the scan response
  Bluefruit.Advertising.restartOnDisconnect(true);
  Bluefruit.Advertising.setInterval(32, 244);  // 20 ms fast, then 152.5 ms
  Bluefruit.Advertising.setFastTimeout(30);
  Bluefruit.Advertising.start(0);
}

// ---------------------------------------------------------------- sampling
static uint16_t readCellAdc(uint8_t cell) {
#if USE_MUX
  for (uint8_t b = 0; b < 3; ++b) digitalWrite(kMuxSelect[b], (cell >> b) & 1u);
  delayMicroseconds(5);  // mux and divider settle
  return (uint16_t)analogRead(kMuxPin);
#else
  return (uint16_t)analogRead(kCellPins[cell]);
#endif
}

static void readSample(oi_sample_t* s) {
  const uint16_t fullScale = (1u << ADC_BITS) - 1u;
  for (uint8_t c = 0; c < N_CELLS; ++c) {
    double g_us = is_fsr_conductance_us(readCellAdc(c), fullScale, R_FIXED_OHM);
    s->cell_force_n[c] = is_cell_force_n(g_us, kGain[c], kZero[c]);
  }
#if SEND_IMU
  double acc[3] = {is_lsm6_acc_mps2(imu.readRawAccelX()), is_lsm6_acc_mps2(imu.readRawAccelY()),
                   is_lsm6_acc_mps2(imu.readRawAccelZ())};
  double gyr[3] = {is_lsm6_gyr_dps(imu.readRawGyroX()), is_lsm6_gyr_dps(imu.readRawGyroY()),
                   is_lsm6_gyr_dps(imu.readRawGyroZ())};
  is_map_axes(acc, kAxis, kSign, s->acc_mps2);
  is_map_axes(gyr, kAxis, kSign, s->gyr_dps);
#endif
}

static void send(const oi_packet_t* p) {
  if (!dataChar.notifyEnabled() || p->len == 0) return;
  if (!dataChar.notify(p->bytes, p->len)) ++gNotifyFailures;  // the bridge sees it as a seq gap
}

static void flushPending() {
  if (oi_batcher_flush(&gBatcher, &gPackets[0])) send(&gPackets[0]);
  gSeq = gBatcher.seq;
}

static bool beginStream() {
  if (oi_batcher_init(&gBatcher, N_CELLS, SEND_IMU, gRateHz, gSeq) != 0) return false;
  if (oi_batcher_set_max_len(&gBatcher, gMaxNotifyLen) != 0) return false;  // MTU too small
  gNextUs = micros();
  return true;
}

// ---------------------------------------------------------------- Arduino
void setup() {
#if USE_MUX
  for (uint8_t b = 0; b < 3; ++b) pinMode(kMuxSelect[b], OUTPUT);
#endif
  analogReadResolution(ADC_BITS);
  analogReference(AR_VDD4);  // full scale = VDD: ratiometric with the 3V3 divider supply

  imu.settings.accelRange = 16;      // ±16 g  (profile: 1/2048 g per count)
  imu.settings.gyroRange = 2000;     // ±2000 dps
  imu.settings.accelSampleRate = 416;
  imu.settings.gyroSampleRate = 416;
  imu.begin();

  Bluefruit.configPrphBandwidth(BANDWIDTH_MAX);  // ATT MTU up to 247, larger TX queue
  Bluefruit.begin();
  Bluefruit.setTxPower(4);
  char name[32];
  uint32_t id = NRF_FICR->DEVICEID[0] & 0xFFFFu;
  snprintf(name, sizeof(name), "CALF-INSOLE-%s-%04lX", INSOLE_SIDE, (unsigned long)id);
  Bluefruit.setName(name);
  Bluefruit.Periph.setConnectCallback(onConnect);
  Bluefruit.Periph.setDisconnectCallback(onDisconnect);

  insoleService.begin();
  dataChar.setProperties(CHR_PROPS_NOTIFY);
  dataChar.setPermission(SECMODE_OPEN, SECMODE_NO_ACCESS);
  dataChar.setMaxLen(OI_MAX_PACKET_LEN);
  dataChar.begin();
  controlChar.setProperties(CHR_PROPS_WRITE | CHR_PROPS_WRITE_WO_RESP);
  controlChar.setPermission(SECMODE_NO_ACCESS, SECMODE_OPEN);
  controlChar.setMaxLen(3);
  controlChar.setWriteCallback(onControlWrite);
  controlChar.begin();

  startAdvertising();
}

void loop() {
  if (Bluefruit.connected()) {
    BLEConnection* c = Bluefruit.Connection(0);
    if (c != nullptr) gMaxNotifyLen = c->getMtu() - 3;
  }
  if (gStopRequested) {
    gStopRequested = false;
    if (gStreaming) flushPending();
    gStreaming = false;
  }
  if (gRateChanged) {
    gRateChanged = false;
    if (gStreaming) flushPending();
    gRateHz = gRequestedRate;
    if (gStreaming) gStreaming = beginStream();
  }
  if (gStartRequested) {
    gStartRequested = false;
    if (!gStreaming) gStreaming = beginStream();
  }
  if (!gStreaming) {
    delay(5);
    return;
  }
  // Sample on a fixed schedule of the µs clock; the sample's time is its slot.
  uint32_t now = micros();
  if ((int32_t)(now - gNextUs) < 0) return;
  if ((uint32_t)(now - gNextUs) >= gBatcher.dt_us) {
    // Fell behind by a whole period or more (radio busy): skip the missed slots.
    // The batcher closes the notification, so the bridge sees the gap from t0_us.
    gNextUs += ((now - gNextUs) / gBatcher.dt_us) * gBatcher.dt_us;
  }
  oi_sample_t s;
  readSample(&s);
  int n = oi_batcher_add(&gBatcher, gNextUs, &s, gPackets);
  for (int i = 0; i < n; ++i) send(&gPackets[i]);
  gSeq = gBatcher.seq;
  gNextUs += gBatcher.dt_us;
}
