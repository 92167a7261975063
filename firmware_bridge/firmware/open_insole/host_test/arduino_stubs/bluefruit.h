/* Declaration-only stand-in for the Bluefruit52Lib API used by open_insole.ino (see README.md). */
#pragma once
#include "Arduino.h"

typedef uint32_t err_t;
enum SecureMode_t { SECMODE_NO_ACCESS = 0x00, SECMODE_OPEN = 0x11 };
enum CharsProperties {
    CHR_PROPS_READ = bit(1),
    CHR_PROPS_WRITE_WO_RESP = bit(2),
    CHR_PROPS_WRITE = bit(3),
    CHR_PROPS_NOTIFY = bit(4)
};
#define BANDWIDTH_MAX 3
#define BLE_GAP_ADV_FLAGS_LE_ONLY_GENERAL_DISC_MODE 0x06

class BLEUuid {
  public:
    BLEUuid(uint16_t uuid16);
    BLEUuid(uint8_t const uuid128[16]);
};

class BLEService {
  public:
    BLEService(BLEUuid bleuuid);
    virtual err_t begin(void);
};

class BLECharacteristic {
  public:
    typedef void (*write_cb_t)(uint16_t conn_hdl, BLECharacteristic *chr, uint8_t *data,
                               uint16_t len);
    BLECharacteristic(BLEUuid bleuuid);
    void setProperties(uint8_t prop);
    void setPermission(SecureMode_t read_perm, SecureMode_t write_perm);
    void setMaxLen(uint16_t max_len);
    void setWriteCallback(write_cb_t fp, bool useAdaCallback = true);
    virtual err_t begin(void);
    bool notifyEnabled(void);
    bool notify(const void *data, uint16_t len);
};

class BLEConnection {
  public:
    uint16_t getMtu(void);
    bool requestMtuExchange(uint16_t mtu);
    bool requestConnectionParameter(uint16_t conn_interval, uint16_t slave_latency = 0,
                                    uint16_t sup_timeout = 400);
};

typedef void (*ble_connect_callback_t)(uint16_t conn_hdl);
typedef void (*ble_disconnect_callback_t)(uint16_t conn_hdl, uint8_t reason);

class BLEPeriph {
  public:
    void setConnectCallback(ble_connect_callback_t fp);
    void setDisconnectCallback(ble_disconnect_callback_t fp);
};

class BLEAdvertisingData {
  public:
    bool addFlags(uint8_t flags);
    bool addService(BLEService &service);
    bool addName(void);
};

class BLEAdvertising : public BLEAdvertisingData {
  public:
    void restartOnDisconnect(bool enable);
    void setInterval(uint16_t fast, uint16_t slow);
    void setFastTimeout(uint16_t sec);
    bool start(uint16_t timeout = 0);
};

class AdafruitBluefruit {
  public:
    BLEPeriph Periph;
    BLEAdvertising Advertising;
    BLEAdvertisingData ScanResponse;
    void configPrphBandwidth(uint8_t bw);
    bool begin(uint8_t prph_count = 1, uint8_t central_count = 0);
    void setName(const char *str);
    bool setTxPower(int8_t power);
    uint8_t connected() const;
    BLEConnection *Connection(uint16_t conn_hdl);
};
extern AdafruitBluefruit Bluefruit;
