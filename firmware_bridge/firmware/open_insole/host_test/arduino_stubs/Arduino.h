/* Declaration-only stand-in for the Arduino core API used by open_insole.ino (see README.md). */
#pragma once
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define bit(b) (1UL << (b))
enum { INPUT = 0, OUTPUT = 1 };
enum eAnalogReference { AR_DEFAULT, AR_INTERNAL, AR_VDD4 };
/* XIAO nRF52840 pin numbers (values are irrelevant for a syntax check) */
static const uint8_t A0 = 2, A1 = 3, A2 = 28, A3 = 29, A4 = 4, A5 = 5;
static const uint8_t D1 = 1, D2 = 2, D3 = 3;

void pinMode(uint32_t pin, uint32_t mode);
void digitalWrite(uint32_t pin, uint32_t value);
uint32_t analogRead(uint32_t pin);
void analogReadResolution(int bits);
void analogReference(eAnalogReference mode);
void delay(uint32_t ms);
void delayMicroseconds(uint32_t us);
uint32_t micros(void);

typedef struct { volatile uint32_t DEVICEID[2]; } NRF_FICR_Type;
extern NRF_FICR_Type *NRF_FICR;
