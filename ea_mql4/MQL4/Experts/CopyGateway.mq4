//+------------------------------------------------------------------+
//|                                               CopyGateway.mq4    |
//| Copy trading through the copygate gateway: a master publishes    |
//| its trades, followers execute them. Inputs and event dispatch    |
//| only; the logic lives in Include/CopyGateway/*.mqh.              |
//+------------------------------------------------------------------+
#property copyright "copygate"
#property version   "1.00"
#property strict
#property description "Copies trades between MT4 accounts through the copygate gateway."

//--- The default build imports no DLL (poll transport over WebRequest). For
//--- the WebSocket transport and RtlGenRandom key entropy, uncomment the next
//--- line; that build needs "Allow DLL imports" (see README.md).
//#define COPYGATE_WITH_DLL

#include <CopyGateway/Ea.mqh>

//--- connection
input string            InpServerUrl="https://copygate.example.com";   // Gateway URL (allow it in Options > Expert Advisors)
input ENUM_CG_ROLE      InpRole=CG_ROLE_FOLLOWER;                      // Role of this account
input string            InpAccountId="";                               // Account id on the gateway ("" = account number)
input string            InpPresharedKey="";                            // Pre-shared key ("" = generate one, needs approval)
input ENUM_CG_TRANSPORT InpTransport=CG_TRANSPORT_POLL;                // Transport (WebSocket: DLL build only)
input string            InpWsUrl="ws://127.0.0.1:8765/ea-gateway/v1/stream"; // WebSocket URL (local TLS terminator)
input int               InpTimerMs=100;                                // Timer period, ms
input int               InpPollWaitMs=500;                             // Follower: server hold per poll, ms
input int               InpIdlePollMs=1000;                            // Master: idle poll period, ms
input int               InpHttpTimeoutMs=5000;                         // WebRequest timeout, ms
input bool              InpUseOsRandom=true;                           // Mix Windows RtlGenRandom into a new key (DLL build)
//--- trading (follower)
input int               InpMagic=20251122;                             // Magic number of copied orders
input double            InpSlippagePips=3.0;                           // Default slippage, pips (x10 points on 5-digit quotes)
input int               InpMaxRetries=3;                               // Retries on requote/busy errors
input int               InpFreezeWaitS=10;                             // Wait for an order to leave the freeze level, s
//--- safety (follower)
input double            InpMaxLotsPerOrder=5.0;                        // Max lots per order (0 = no limit)
input int               InpMaxOpenOrders=50;                           // Max open + pending orders (0 = no limit)
input string            InpAllowedSymbols="";                          // Allowed symbols, comma separated ("" = all)
input bool              InpKillSwitch=false;                           // Kill switch: no new orders (closes still run)
//--- master
input int               InpMasterMagicFilter=-1;                       // Master: publish only this magic (-1 = all orders)

CCopyGatewayEa g_ea;

int OnInit()
  {
   SEaConfig cfg;
   cfg.server_url=InpServerUrl;
   cfg.role=InpRole;
   cfg.account_id=InpAccountId;
   cfg.preshared_key=InpPresharedKey;
   cfg.transport=InpTransport;
   cfg.ws_url=InpWsUrl;
   cfg.timer_ms=InpTimerMs;
   cfg.poll_wait_ms=InpPollWaitMs;
   cfg.idle_poll_ms=InpIdlePollMs;
   cfg.http_timeout_ms=InpHttpTimeoutMs;
   cfg.use_os_random=InpUseOsRandom;
   cfg.magic=InpMagic;
   cfg.slippage_pips=InpSlippagePips;
   cfg.max_retries=InpMaxRetries;
   cfg.freeze_wait_s=InpFreezeWaitS;
   cfg.max_lots=InpMaxLotsPerOrder;
   cfg.max_open=InpMaxOpenOrders;
   cfg.allowed_symbols=InpAllowedSymbols;
   cfg.kill_switch=InpKillSwitch;
   cfg.master_magic_filter=InpMasterMagicFilter;
   return(g_ea.Init(cfg));
  }

void OnDeinit(const int reason)
  {
   g_ea.Deinit(reason);
  }

void OnTimer()
  {
   g_ea.OnTimer();
  }

void OnTick()
  {
   g_ea.OnTick();
  }
