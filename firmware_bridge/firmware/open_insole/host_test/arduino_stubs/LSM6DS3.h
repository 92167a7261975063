/* Declaration-only stand-in for Seeed_Arduino_LSM6DS3's LSM6DS3.h (see README.md). */
#pragma once
#include "Arduino.h"
#define I2C_MODE 0
typedef enum { IMU_SUCCESS, IMU_HW_ERROR } status_t;
struct SensorSettings {
    uint8_t gyroEnabled;
    uint16_t gyroRange;
    uint16_t gyroSampleRate;
    uint8_t accelEnabled;
    uint16_t accelRange;
    uint16_t accelSampleRate;
};
class LSM6DS3 {
  public:
    SensorSettings settings;
    LSM6DS3(uint8_t busType = I2C_MODE, uint8_t inputArg = 0x6A);
    status_t begin(void);
    int16_t readRawAccelX(void);
    int16_t readRawAccelY(void);
    int16_t readRawAccelZ(void);
    int16_t readRawGyroX(void);
    int16_t readRawGyroY(void);
    int16_t readRawGyroZ(void);
};
