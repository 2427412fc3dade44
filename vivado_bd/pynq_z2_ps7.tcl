# The PYNQ-Z2 processing system (DDR, PS clocks, MIO) for Vivado installs that
# lack the PYNQ-Z2 board files. With the board files, the board preset is used
# instead and this list is not applied.
#
# Values taken from the PS7 configuration of the PYNQ project's PYNQ-Z2 design,
# Xilinx/PYNQ boards/Pynq-Z2/petalinux_bsp/hardware_project/pynqz2.tcl (BSD-3):
# a 50 MHz PS crystal, the 650 MHz APU, 16-bit DDR3 at 525 MHz
# (MT41J256M16 RE-125, with that board's trace delays) and the MIO map
# (QSPI, Ethernet, USB, SD card, UART0). Only settings that differ from the
# processing_system7 defaults are listed; PL-facing settings (FCLK0, HP0, GP0)
# come from pynq_z2_design.tcl.

namespace eval ::pynq_mnist {}

proc ::pynq_mnist::ps7_board_config {} {
    return [list \
        CONFIG.PCW_CRYSTAL_PERIPHERAL_FREQMHZ {50} \
        CONFIG.PCW_APU_PERIPHERAL_FREQMHZ {650} \
        CONFIG.PCW_APU_CLK_RATIO_ENABLE {6:2:1} \
        CONFIG.PCW_PACKAGE_NAME {clg400} \
        CONFIG.PCW_PRESET_BANK0_VOLTAGE {LVCMOS 3.3V} \
        CONFIG.PCW_PRESET_BANK1_VOLTAGE {LVCMOS 1.8V} \
        CONFIG.PCW_UIPARAM_DDR_ENABLE {1} \
        CONFIG.PCW_UIPARAM_DDR_MEMORY_TYPE {DDR 3} \
        CONFIG.PCW_UIPARAM_DDR_PARTNO {MT41J256M16 RE-125} \
        CONFIG.PCW_UIPARAM_DDR_BUS_WIDTH {16 Bit} \
        CONFIG.PCW_UIPARAM_DDR_FREQ_MHZ {525} \
        CONFIG.PCW_UIPARAM_DDR_BOARD_DELAY0 {0.223} \
        CONFIG.PCW_UIPARAM_DDR_BOARD_DELAY1 {0.212} \
        CONFIG.PCW_UIPARAM_DDR_BOARD_DELAY2 {0.085} \
        CONFIG.PCW_UIPARAM_DDR_BOARD_DELAY3 {0.092} \
        CONFIG.PCW_UIPARAM_DDR_DQS_TO_CLK_DELAY_0 {0.040} \
        CONFIG.PCW_UIPARAM_DDR_DQS_TO_CLK_DELAY_1 {0.058} \
        CONFIG.PCW_UIPARAM_DDR_DQS_TO_CLK_DELAY_2 {-0.009} \
        CONFIG.PCW_UIPARAM_DDR_DQS_TO_CLK_DELAY_3 {-0.033} \
        CONFIG.PCW_UIPARAM_DDR_TRAIN_DATA_EYE {1} \
        CONFIG.PCW_UIPARAM_DDR_TRAIN_READ_GATE {1} \
        CONFIG.PCW_UIPARAM_DDR_TRAIN_WRITE_LEVEL {1} \
        CONFIG.PCW_UIPARAM_DDR_USE_INTERNAL_VREF {0} \
        CONFIG.PCW_QSPI_PERIPHERAL_ENABLE {1} \
        CONFIG.PCW_QSPI_GRP_SINGLE_SS_ENABLE {1} \
        CONFIG.PCW_QSPI_GRP_FBCLK_ENABLE {1} \
        CONFIG.PCW_QSPI_GRP_FBCLK_IO {MIO 8} \
        CONFIG.PCW_ENET0_PERIPHERAL_ENABLE {1} \
        CONFIG.PCW_ENET0_ENET0_IO {MIO 16 .. 27} \
        CONFIG.PCW_ENET0_GRP_MDIO_ENABLE {1} \
        CONFIG.PCW_ENET0_GRP_MDIO_IO {MIO 52 .. 53} \
        CONFIG.PCW_ENET0_RESET_ENABLE {1} \
        CONFIG.PCW_ENET0_RESET_IO {MIO 9} \
        CONFIG.PCW_USB0_PERIPHERAL_ENABLE {1} \
        CONFIG.PCW_USB0_RESET_ENABLE {1} \
        CONFIG.PCW_USB0_RESET_IO {MIO 46} \
        CONFIG.PCW_SD0_PERIPHERAL_ENABLE {1} \
        CONFIG.PCW_SD0_GRP_CD_ENABLE {1} \
        CONFIG.PCW_SD0_GRP_CD_IO {MIO 47} \
        CONFIG.PCW_SDIO_PERIPHERAL_FREQMHZ {50} \
        CONFIG.PCW_UART0_PERIPHERAL_ENABLE {1} \
        CONFIG.PCW_UART0_UART0_IO {MIO 14 .. 15} \
        CONFIG.PCW_UART_PERIPHERAL_FREQMHZ {100} \
        CONFIG.PCW_GPIO_MIO_GPIO_ENABLE {1} \
    ]
}
