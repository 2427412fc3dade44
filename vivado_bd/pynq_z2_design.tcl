# The PYNQ-Z2 block design: the Zynq PS, one AXI DMA in simple mode, and the network IP.
#
#   PS M_AXI_GP0 -> ctrl_interconnect -> DMA S_AXI_LITE                  (control)
#   DMA M_AXIS_MM2S -> IP input stream; IP output stream -> DMA S_AXIS_S2MM  (data)
#   DMA M_AXI_MM2S, M_AXI_S2MM -> mem_interconnect -> PS S_AXI_HP0 (64 bit)   (DDR)
#   FCLK_CLK0 clocks everything; one proc_sys_reset releases it after FCLK_RESET0_N.
#   PS M_AXI_GP0 -> ctrl_interconnect -> ip_reset_gpio S_AXI; its 1-bit output AND
#   peripheral_aresetn -> the IP's reset: software resets the IP alone (the DMA's
#   soft reset never reaches the IP, which keeps a half-read frame and queued output).
#
# With latency_counter set, the stream_timer RTL module (stream_timer.v,
# added to the project first) sits on both streams as wires, and its registers
# hang off GP0 as a second AXI-Lite slave.
#
# Every number and name comes from the params dict (written from bundle.json by
# pynq_mnist.vivado_bd.params); nothing here repeats the metadata.

namespace eval ::pynq_mnist {}

proc ::pynq_mnist::p {params key} {
    return [dict get $params $key]
}

# The processing system: board preset when the board files are installed, else
# the explicit PYNQ-Z2 configuration of pynq_z2_ps7.tcl; then the PL side.
proc ::pynq_mnist::add_ps7 {params use_board_preset} {
    set name [p $params ps_cell]
    set ps [create_bd_cell -type ip -vlnv [p $params ps_vlnv] $name]
    if {$use_board_preset} {
        apply_bd_automation -rule xilinx.com:bd_rule:processing_system7 \
            -config {make_external "FIXED_IO, DDR" apply_board_preset "1" Master "Disable" Slave "Disable"} $ps
    } else {
        set_property -dict [::pynq_mnist::ps7_board_config] $ps
        make_bd_intf_pins_external [get_bd_intf_pins $name/DDR] [get_bd_intf_pins $name/FIXED_IO]
    }
    set_property -dict [list \
        CONFIG.PCW_FPGA0_PERIPHERAL_FREQMHZ [p $params fclk0_mhz] \
        CONFIG.PCW_EN_CLK0_PORT {1} \
        CONFIG.PCW_EN_RST0_PORT {1} \
        CONFIG.PCW_USE_M_AXI_GP0 {1} \
        CONFIG.PCW_USE_S_AXI_HP0 {1} \
        CONFIG.PCW_S_AXI_HP0_DATA_WIDTH [p $params hp0_width_bits] \
    ] $ps
    return $ps
}

# AXI DMA 7.1 in simple (register) mode: pynq.lib.dma drives it this way.
proc ::pynq_mnist::add_dma {params} {
    set dma [create_bd_cell -type ip -vlnv [p $params dma_vlnv] [p $params dma_cell]]
    # Mark the S2MM stream width as the user's before setting it, as hls4ml's
    # pynq-z2 axi_stream_design.tcl does, so Vivado keeps it (IP_Flow 19-3374).
    set_property -dict [list CONFIG.c_s_axis_s2mm_tdata_width.VALUE_SRC USER] $dma
    set_property -dict [list \
        CONFIG.c_include_sg {0} \
        CONFIG.c_sg_include_stscntrl_strm {0} \
        CONFIG.c_sg_length_width [p $params dma_length_width_bits] \
        CONFIG.c_include_mm2s {1} \
        CONFIG.c_include_s2mm {1} \
        CONFIG.c_m_axi_mm2s_data_width [p $params dma_mm2s_mm_width_bits] \
        CONFIG.c_m_axis_mm2s_tdata_width [p $params in_width_bits] \
        CONFIG.c_m_axi_s2mm_data_width [p $params dma_s2mm_mm_width_bits] \
        CONFIG.c_s_axis_s2mm_tdata_width [p $params out_width_bits] \
        CONFIG.c_mm2s_burst_size [p $params dma_burst_size] \
        CONFIG.c_s2mm_burst_size [p $params dma_burst_size] \
    ] $dma
    return $dma
}

# The network IP, refusing one whose stream widths differ from the metadata's
# (the swapped-widths trap): the DMA would otherwise be built to the wrong width.
# The HLS IP comes from its IP repository; the RTL IP (convert --backend rtl) is a
# module reference to its Verilog top level, added to the project's sources first.
proc ::pynq_mnist::add_ip {params} {
    set cell [p $params ip_cell]
    if {[p $params ip_backend] eq "rtl"} {
        set ip [create_bd_cell -type module -reference [p $params ip_top] $cell]
    } else {
        set ip [create_bd_cell -type ip -vlnv [p $params ip_vlnv] $cell]
    }
    foreach {port key} [list [p $params ip_in_port] in_width_bits [p $params ip_out_port] out_width_bits] {
        set bytes [get_property CONFIG.TDATA_NUM_BYTES [get_bd_intf_pins $cell/$port]]
        set want [expr {[p $params $key] / 8}]
        if {$bytes != $want} {
            error "the IP's $port carries [expr {$bytes * 8}] bits but bundle.json says\
                   $key = [p $params $key]: the HLS project and the metadata disagree\
                   (convert the model again)"
        }
    }
    return $ip
}

# The IP's software reset (PG144 AXI GPIO, 1 output bit, 1 at power-up) and the
# AND gate that joins it to the system reset: the RTL module ip_reset_and.v.
proc ::pynq_mnist::add_ip_reset {params} {
    set gpio [create_bd_cell -type ip -vlnv [p $params ip_reset_vlnv] [p $params ip_reset_cell]]
    set_property -dict [list \
        CONFIG.C_GPIO_WIDTH [p $params ip_reset_c_gpio_width] \
        CONFIG.C_ALL_OUTPUTS [p $params ip_reset_c_all_outputs] \
        CONFIG.C_DOUT_DEFAULT [p $params ip_reset_c_dout_default] \
    ] $gpio
    create_bd_cell -type module -reference [p $params ip_reset_and_module] \
        [p $params ip_reset_and_cell]
    return $gpio
}

proc ::pynq_mnist::add_interconnect {params name num_si num_mi} {
    set ic [create_bd_cell -type ip -vlnv [p $params interconnect_vlnv] $name]
    set_property -dict [list CONFIG.NUM_SI $num_si CONFIG.NUM_MI $num_mi] $ic
    return $ic
}

proc ::pynq_mnist::add_timer {params} {
    set timer [create_bd_cell -type module -reference stream_timer [p $params timer_cell]]
    set_property -dict [list \
        CONFIG.IN_BYTES [expr {[p $params in_width_bits] / 8}] \
        CONFIG.OUT_BYTES [expr {[p $params out_width_bits] / 8}] \
    ] $timer
    return $timer
}

# DMA -> IP input and IP output -> DMA, through the timer when there is one.
proc ::pynq_mnist::connect_streams {params} {
    set dma [p $params dma_cell]
    set ip [p $params ip_cell]
    set mm2s [get_bd_intf_pins $dma/M_AXIS_MM2S]
    set s2mm [get_bd_intf_pins $dma/S_AXIS_S2MM]
    set ip_in [get_bd_intf_pins $ip/[p $params ip_in_port]]
    set ip_out [get_bd_intf_pins $ip/[p $params ip_out_port]]
    if {[p $params latency_counter]} {
        set t [p $params timer_cell]
        connect_bd_intf_net $mm2s [get_bd_intf_pins $t/s_axis_in]
        connect_bd_intf_net [get_bd_intf_pins $t/m_axis_in] $ip_in
        connect_bd_intf_net $ip_out [get_bd_intf_pins $t/s_axis_out]
        connect_bd_intf_net [get_bd_intf_pins $t/m_axis_out] $s2mm
    } else {
        connect_bd_intf_net $mm2s $ip_in
        connect_bd_intf_net $ip_out $s2mm
    }
}

proc ::pynq_mnist::create_design {params use_board_preset} {
    set ps [p $params ps_cell]
    set dma [p $params dma_cell]
    set ip [p $params ip_cell]
    set timer [p $params latency_counter]
    set ctrl [p $params ctrl_interconnect_cell]
    set mem [p $params mem_interconnect_cell]
    set rst [p $params reset_cell]
    add_ps7 $params $use_board_preset
    add_dma $params
    add_ip $params
    set gpio [p $params ip_reset_cell]
    set gate [p $params ip_reset_and_cell]
    add_ip_reset $params
    add_interconnect $params $ctrl 1 [expr {2 + $timer}]
    add_interconnect $params $mem 2 1
    create_bd_cell -type ip -vlnv [p $params reset_vlnv] $rst
    set clocked {}
    set resets {}
    set ip_resets {}
    if {$timer} {
        add_timer $params
        set t [p $params timer_cell]
        set clocked [list [get_bd_pins $t/aclk]]
        set resets [list [get_bd_pins $t/aresetn]]
        set ip_resets [list [get_bd_pins $t/ip_aresetn]]
    }

    # data path
    connect_streams $params
    # control: GP0 -> DMA registers, the IP reset GPIO (and the timer's registers)
    connect_bd_intf_net [get_bd_intf_pins $ps/M_AXI_GP0] [get_bd_intf_pins $ctrl/S00_AXI]
    connect_bd_intf_net [get_bd_intf_pins $ctrl/M00_AXI] [get_bd_intf_pins $dma/S_AXI_LITE]
    connect_bd_intf_net [get_bd_intf_pins $ctrl/M01_AXI] [get_bd_intf_pins $gpio/S_AXI]
    if {$timer} {
        connect_bd_intf_net [get_bd_intf_pins $ctrl/M02_AXI] [get_bd_intf_pins $t/s_axi]
    }
    # memory: DMA masters -> HP0
    connect_bd_intf_net [get_bd_intf_pins $dma/M_AXI_MM2S] [get_bd_intf_pins $mem/S00_AXI]
    connect_bd_intf_net [get_bd_intf_pins $dma/M_AXI_S2MM] [get_bd_intf_pins $mem/S01_AXI]
    connect_bd_intf_net [get_bd_intf_pins $mem/M00_AXI] [get_bd_intf_pins $ps/S_AXI_HP0]

    # one clock, one reset
    connect_bd_net [get_bd_pins $ps/FCLK_CLK0] \
        [get_bd_pins $ps/M_AXI_GP0_ACLK] [get_bd_pins $ps/S_AXI_HP0_ACLK] \
        [get_bd_pins $dma/s_axi_lite_aclk] [get_bd_pins $dma/m_axi_mm2s_aclk] \
        [get_bd_pins $dma/m_axi_s2mm_aclk] [get_bd_pins $ip/[p $params ip_clk_port]] \
        [get_bd_pins $ctrl/aclk] [get_bd_pins $mem/aclk] \
        [get_bd_pins $rst/slowest_sync_clk] [get_bd_pins $gpio/s_axi_aclk] {*}$clocked
    connect_bd_net [get_bd_pins $ps/FCLK_RESET0_N] [get_bd_pins $rst/ext_reset_in]
    connect_bd_net [get_bd_pins $rst/interconnect_aresetn] \
        [get_bd_pins $ctrl/aresetn] [get_bd_pins $mem/aresetn]
    connect_bd_net [get_bd_pins $rst/peripheral_aresetn] \
        [get_bd_pins $dma/axi_resetn] [get_bd_pins $gpio/s_axi_aresetn] \
        [get_bd_pins $gate/Op1] {*}$resets
    # the IP's reset: system reset AND the GPIO's bit
    connect_bd_net [get_bd_pins $gpio/gpio_io_o] [get_bd_pins $gate/Op2]
    # (the latency counter's run ends with the IP's: stream_timer.v ip_aresetn)
    connect_bd_net [get_bd_pins $gate/Res] [get_bd_pins $ip/[p $params ip_rst_port]] \
        {*}$ip_resets

    # address map: DMA registers on GP0; both DMA masters see all of DDR through HP0
    assign_bd_address -offset [p $params dma_lite_base] -range [p $params dma_lite_range] \
        -target_address_space [get_bd_addr_spaces $ps/Data] \
        [get_bd_addr_segs $dma/S_AXI_LITE/Reg] -force
    assign_bd_address -offset [p $params ip_reset_base] -range [p $params ip_reset_range] \
        -target_address_space [get_bd_addr_spaces $ps/Data] \
        [get_bd_addr_segs $gpio/S_AXI/Reg] -force
    foreach space {Data_MM2S Data_S2MM} {
        assign_bd_address -offset 0x00000000 -range [p $params ddr_range] \
            -target_address_space [get_bd_addr_spaces $dma/$space] \
            [get_bd_addr_segs $ps/S_AXI_HP0/HP0_DDR_LOWOCM] -force
    }
    if {$timer} {
        assign_bd_address -offset [p $params timer_base] -range [p $params timer_range] \
            -target_address_space [get_bd_addr_spaces $ps/Data] \
            [get_bd_addr_segs $t/s_axi/reg0] -force
    }
}
