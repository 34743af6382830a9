//+------------------------------------------------------------------+
//| Follower.mqh -- follower mode: execute one OrderCommand with the |
//| MT4 trade functions and describe the outcome as an               |
//| ExecutionReport.                                                 |
//|                                                                  |
//| Retries: 135/136/138 -> RefreshRates() and retry at the new      |
//| price; 146 -> wait for the trade context and retry; 128 -> first |
//| check whether the request went through; anything else is final. |
//| The EA only ever touches orders carrying its own magic number.   |
//+------------------------------------------------------------------+
#property strict

#ifndef COPYGATEWAY_FOLLOWER_MQH
#define COPYGATEWAY_FOLLOWER_MQH

#include <CopyGateway/Platform.mqh>

class CTradeExecutor
  {
private:
   int               m_magic;           // magic number of every order we place
   double            m_slippage_pips;   // default when the command has none
   int               m_max_retries;     // retries after a retryable error
   int               m_last_error;      // MT4 error of the last failed step

   //--- before every trade operation: connected, trading allowed, context free
   //--- (false with m_last_error set otherwise)
   bool              WaitTradeContext(void)
     {
      if(!IsConnected())
        {
         m_last_error=ERR_NO_CONNECTION;
         return(false);
        }
      if(!IsTradeAllowed())
        {
         m_last_error=ERR_TRADE_NOT_ALLOWED;
         return(false);
        }
      uint deadline=GetTickCount()+5000;
      while(IsTradeContextBusy())
        {
         if(GetTickCount()>deadline || IsStopped())
           {
            m_last_error=ERR_TRADE_CONTEXT_BUSY;
            return(false);
           }
         Sleep(50);
        }
      return(true);
     }
   //--- "cg#<master ticket> <command tag>" (at most 25 of the comment's 31 characters)
   string            Comment(const SOrderCommand &c) const
     {
      return("cg#"+IntegerToString(c.master_ticket)+" "+CgCommandTag(c.command_id));
     }
   //--- the order `c` opened, in `pool` (MODE_TRADES/MODE_HISTORY), 0 = none
   int               FindInPool(const SOrderCommand &c,const int pool)
     {
      string tag=CgCommandTag(c.command_id);
      int total=(pool==MODE_TRADES ? OrdersTotal() : OrdersHistoryTotal());
      for(int i=total-1;i>=0;i--)
        {
         if(!OrderSelect(i,SELECT_BY_POS,pool))
            continue;
         if(OrderMagicNumber()==m_magic && OrderSymbol()==c.symbol && StringFind(OrderComment(),tag)>=0)
            return(OrderTicket());
        }
      return(0);
     }
   //--- our order opened for `c` (after an error 128)
   int               FindOurOrder(const SOrderCommand &c)
     {
      return(FindInPool(c,MODE_TRADES));
     }
   //--- our open order whose comment says it was split from `ticket`, 0 = none
   int               FindSplitRemainder(const int ticket,const string symbol)
     {
      string from="from #"+IntegerToString(ticket);
      for(int i=OrdersTotal()-1;i>=0;i--)
        {
         if(!OrderSelect(i,SELECT_BY_POS,MODE_TRADES))
            continue;
         if(OrderMagicNumber()==m_magic && OrderSymbol()==symbol && StringFind(OrderComment(),from)>=0)
            return(OrderTicket());
        }
      return(0);
     }
   //--- remainder of `ticket` after a partial close
   int               FindRemainder(const int ticket,const SOrderRow &before)
     {
      int fallback=0;
      for(int i=OrdersTotal()-1;i>=0;i--)
        {
         if(!OrderSelect(i,SELECT_BY_POS,MODE_TRADES) || OrderTicket()==ticket)
            continue;
         if(OrderSymbol()!=before.symbol || OrderType()!=before.type || OrderMagicNumber()!=m_magic)
            continue;
         if(CgCommentSaysFrom(OrderComment(),ticket))
            return(OrderTicket());
         if(fallback==0 && OrderOpenTime()==before.open_time && OrderLots()<before.lots)
            fallback=OrderTicket();
        }
      return(fallback);
     }
   void              Reject(SExecutionReport &r,const int code,const string message)
     {
      r.status="rejected";
      r.error_code=code;
      r.has_error_code=true;
      r.error_message=message;
     }
   int               SymbolDigits(const string symbol) const { return((int)MarketInfo(symbol,MODE_DIGITS)); }
   //--- `price` on the tick grid of `symbol`
   double            Tick(const string symbol,const double price,const int digits) const
     {
      return(CgNormalizePrice(price,MarketInfo(symbol,MODE_TICKSIZE),digits));
     }
   int               Slippage(const SOrderCommand &c) const
     {
      if(c.max_slippage_points>=0)
         return(c.max_slippage_points);
      return(CgSlippagePoints(m_slippage_pips,SymbolDigits(c.symbol)));
     }
   //--- OrderSend with the retry policy; 0 on failure (m_last_error)
   int               Send(const SOrderCommand &c,const int type,const double lots,const double pending_price)
     {
      int digits=SymbolDigits(c.symbol);
      bool buy=(c.side=="buy");
      for(int attempt=0;attempt<=m_max_retries;attempt++)
        {
         if(!WaitTradeContext())
            return(0);
         RefreshRates();
         double price=pending_price;
         if(!CgIsPending(type))
            price=CgMarketPrice(buy,true,MarketInfo(c.symbol,MODE_BID),MarketInfo(c.symbol,MODE_ASK));
         price=Tick(c.symbol,price,digits);
         // market orders go out naked (ECN-safe); SL/TP are set by Modify afterwards
         double gap=MarketInfo(c.symbol,MODE_STOPLEVEL)*MarketInfo(c.symbol,MODE_POINT);
         double sl=(CgIsPending(type) ? Tick(c.symbol,CgRespectStopLevel(c.sl,price,buy,true,gap),digits) : 0);
         double tp=(CgIsPending(type) ? Tick(c.symbol,CgRespectStopLevel(c.tp,price,buy,false,gap),digits) : 0);
         ResetLastError();
         int ticket=OrderSend(c.symbol,type,lots,price,Slippage(c),sl,tp,Comment(c),m_magic,0,clrNONE);
         if(ticket>0)
            return(ticket);
         m_last_error=GetLastError();
         int cls=CgRetryClass(m_last_error);
         if(cls==CG_RETRY_FINAL)
            return(0);
         if(cls==CG_RETRY_CHECK)
           {
            Sleep(1000);
            int found=FindOurOrder(c);
            if(found>0)
               return(found);
           }
         else if(cls==CG_RETRY_WAIT)
            Sleep(100*(attempt+1));
         else
            Sleep(50);
        }
      return(0);
     }
   bool              Modify(const int ticket,const double price,const double sl,const double tp,const int digits)
     {
      for(int attempt=0;attempt<=m_max_retries;attempt++)
        {
         if(!OrderSelect(ticket,SELECT_BY_TICKET) || OrderCloseTime()>0)
           {
            m_last_error=ERR_INVALID_TICKET;
            return(false);
           }
         string symbol=OrderSymbol();
         bool buy=(OrderType()==OP_BUY || OrderType()==OP_BUYLIMIT || OrderType()==OP_BUYSTOP);
         double nprice=Tick(symbol,price,digits);
         double ref=(CgIsPending(OrderType()) ? nprice : (buy ? MarketInfo(symbol,MODE_BID) : MarketInfo(symbol,MODE_ASK)));
         double gap=MarketInfo(symbol,MODE_STOPLEVEL)*MarketInfo(symbol,MODE_POINT);
         double nsl=Tick(symbol,CgRespectStopLevel(sl,ref,buy,true,gap),digits);
         double ntp=Tick(symbol,CgRespectStopLevel(tp,ref,buy,false,gap),digits);
         if(!CgPriceChanged(OrderStopLoss(),nsl,MathPow(10,-digits)) &&
            !CgPriceChanged(OrderTakeProfit(),ntp,MathPow(10,-digits)) &&
            !CgPriceChanged(OrderOpenPrice(),nprice,MathPow(10,-digits)))
            return(true);  // nothing to change (MT4 would answer error 1)
         if(!WaitTradeContext())
            return(false);
         ResetLastError();
         if(OrderModify(ticket,nprice,nsl,ntp,OrderExpiration(),clrNONE))
            return(true);
         m_last_error=GetLastError();
         if(m_last_error==ERR_NO_RESULT)
            return(true);
         int cls=CgRetryClass(m_last_error);
         if(cls==CG_RETRY_FINAL)
            return(false);
         Sleep(cls==CG_RETRY_WAIT ? 100*(attempt+1) : (cls==CG_RETRY_CHECK ? 1000 : 50));
         RefreshRates();
        }
      return(false);
     }
   bool              CloseOrder(const int ticket,const double lots,const string symbol,const bool buy)
     {
      int digits=SymbolDigits(symbol);
      for(int attempt=0;attempt<=m_max_retries;attempt++)
        {
         if(!WaitTradeContext())
            return(false);
         RefreshRates();
         double price=NormalizeDouble(CgMarketPrice(buy,false,MarketInfo(symbol,MODE_BID),MarketInfo(symbol,MODE_ASK)),digits);
         ResetLastError();
         if(OrderClose(ticket,lots,price,CgSlippagePoints(m_slippage_pips,digits),clrNONE))
            return(true);
         m_last_error=GetLastError();
         int cls=CgRetryClass(m_last_error);
         if(cls==CG_RETRY_FINAL)
            return(false);
         if(cls==CG_RETRY_CHECK)
           {
            Sleep(1000);
            if(OrderSelect(ticket,SELECT_BY_TICKET) && OrderCloseTime()>0)
               return(true);
           }
         else if(cls==CG_RETRY_WAIT)
            Sleep(100*(attempt+1));
         else
            Sleep(50);
        }
      return(false);
     }
   bool              Delete(const int ticket)
     {
      for(int attempt=0;attempt<=m_max_retries;attempt++)
        {
         if(!WaitTradeContext())
            return(false);
         ResetLastError();
         if(OrderDelete(ticket,clrNONE))
            return(true);
         m_last_error=GetLastError();
         int cls=CgRetryClass(m_last_error);
         if(cls==CG_RETRY_FINAL)
            return(false);
         if(cls==CG_RETRY_CHECK)
           {
            Sleep(1000);
            if(OrderSelect(ticket,SELECT_BY_TICKET) && OrderCloseTime()>0)
               return(true);
           }
         else
            Sleep(100*(attempt+1));
        }
      return(false);
     }
   //--- select our open order `ticket`; rejects into `r` when it is not usable
   bool              SelectOurs(const int ticket,SExecutionReport &r)
     {
      if(ticket<=0 || !OrderSelect(ticket,SELECT_BY_TICKET))
        {
         Reject(r,CG_ERR_UNKNOWN_TICKET,"unknown ticket "+IntegerToString(ticket));
         return(false);
        }
      if(OrderMagicNumber()!=m_magic)
        {
         Reject(r,CG_ERR_NOT_OURS,"ticket "+IntegerToString(ticket)+" was not opened by this EA (magic)");
         return(false);
        }
      return(true);
     }

   void              OpenOrder(const SOrderCommand &c,const int type,const CSafetyPolicy &safety,CTicketMap &map,SExecutionReport &r)
     {
      string why;
      int code=safety.CheckOpen(c.symbol,c.volume,CgCountOrders(m_magic),why);
      if(code!=0)
        {
         Reject(r,code,why);
         return;
        }
      if(!IsTradeAllowed())
        {
         Reject(r,ERR_TRADE_NOT_ALLOWED,"trading is not allowed (AutoTrading off or EA not allowed to trade)");
         return;
        }
      double lots=CgNormalizeLots(c.volume,MarketInfo(c.symbol,MODE_LOTSTEP),MarketInfo(c.symbol,MODE_MINLOT),MarketInfo(c.symbol,MODE_MAXLOT));
      if(lots<=0)
        {
         Reject(r,ERR_INVALID_TRADE_VOLUME,"volume "+DoubleToString(c.volume,2)+" is below the symbol's minimum lot");
         return;
        }
      bool pending=CgIsPending(type);
      if(pending && c.price<=0)
        {
         Reject(r,CG_ERR_BAD_COMMAND,"a pending order needs a price");
         return;
        }
      int ticket=Send(c,type,lots,c.price);
      if(ticket<=0)
        {
         Reject(r,m_last_error,"OrderSend failed");
         return;
        }
      map.Set(c.master_account_id,c.master_ticket,ticket,c.symbol);
      r.status=(pending ? "placed" : "filled");
      r.ticket=ticket;
      r.volume=lots;
      if(OrderSelect(ticket,SELECT_BY_TICKET))
        {
         r.price=OrderOpenPrice();
         r.volume=OrderLots();
        }
      if(!pending && (c.sl>0 || c.tp>0))
        {
         int digits=SymbolDigits(c.symbol);
         if(!Modify(ticket,OrderOpenPrice(),c.sl,c.tp,digits))
           {
            r.error_code=m_last_error;
            r.has_error_code=true;
            r.error_message="filled, but SL/TP could not be set";
           }
        }
     }

public:
   //--- The order an open/place_pending command already opened (open orders,
   //--- then the account history), 0 = none: after a crash between OrderSend
   //--- and saving the report, the command must not trade twice.
   int               FindCommandOrder(const SOrderCommand &c)
     {
      int ticket=FindInPool(c,MODE_TRADES);
      if(ticket<=0)
         ticket=FindInPool(c,MODE_HISTORY);
      return(ticket);
     }
   //--- The report of `c` that opened `ticket` before a restart; SL/TP are
   //--- set again when the crash came between OrderSend and OrderModify.
   void              Recover(const SOrderCommand &c,const int ticket,const long now_ms,SExecutionReport &r)
     {
      CgResetReport(r);
      r.command_id=c.command_id;
      r.status=(c.action=="open" ? "filled" : "placed");
      r.ticket=ticket;
      r.symbol=c.symbol;
      r.executed_at_ms=now_ms;
      if(!OrderSelect(ticket,SELECT_BY_TICKET))
         return;
      r.price=OrderOpenPrice();
      r.volume=OrderLots();
      bool open=(OrderCloseTime()==0);
      bool stops_missing=((c.sl>0 && OrderStopLoss()==0) || (c.tp>0 && OrderTakeProfit()==0));
      if(open && c.action=="open" && stops_missing)
        {
         if(!Modify(ticket,OrderOpenPrice(),c.sl,c.tp,SymbolDigits(c.symbol)))
           {
            r.error_code=m_last_error;
            r.has_error_code=true;
            r.error_message="filled, but SL/TP could not be set";
           }
        }
     }
                     CTradeExecutor(void) : m_magic(0),m_slippage_pips(3),m_max_retries(3),m_last_error(0) {}
   void              Init(const int magic,const double slippage_pips,const int max_retries)
     {
      m_magic=magic;
      m_slippage_pips=slippage_pips;
      m_max_retries=max_retries;
     }
   //--- Execute `c`; the outcome is written to `r` (command_id and status always set).
   void              Execute(const SOrderCommand &c,const long now_ms,const CSafetyPolicy &safety,CTicketMap &map,SExecutionReport &r)
     {
      CgResetReport(r);
      r.command_id=c.command_id;
      r.symbol=c.symbol;
      r.executed_at_ms=now_ms;
      bool reducing=(c.action=="close" || c.action=="cancel_pending");
      // closes and cancels are never dropped for lateness: leaving exposure open is worse
      if(c.expires_at>0 && now_ms>c.expires_at && !reducing)
        {
         r.status="expired";
         r.error_code=CG_ERR_EXPIRED;
         r.has_error_code=true;
         r.error_message="command expired "+IntegerToString(now_ms-c.expires_at)+" ms before execution";
         return;
        }
      SymbolSelect(c.symbol,true);  // MarketInfo fails (4106) for symbols not in Market Watch
      if(MarketInfo(c.symbol,MODE_POINT)<=0)
        {
         Reject(r,4106,"unknown symbol "+c.symbol);
         return;
        }
      int type=CgMt4Type(c.side,c.order_type);
      if(c.action=="open")
        {
         OpenOrder(c,(c.side=="buy" ? OP_BUY : OP_SELL),safety,map,r);
         return;
        }
      if(c.action=="place_pending")
        {
         if(!CgIsPending(type))
           {
            Reject(r,CG_ERR_BAD_COMMAND,"place_pending needs order_type limit or stop");
            return;
           }
         OpenOrder(c,type,safety,map,r);
         return;
        }
      int ticket=c.ticket;
      if(ticket<=0)
         ticket=map.Find(c.master_account_id,c.master_ticket);
      r.ticket=ticket;
      if(!SelectOurs(ticket,r))
         return;
      if(c.action=="modify")
        {
         if(OrderCloseTime()>0)
           {
            Reject(r,CG_ERR_UNKNOWN_TICKET,"ticket "+IntegerToString(ticket)+" is already closed");
            return;
           }
         double price=OrderOpenPrice();
         if(CgIsPending(OrderType()) && c.price>0)
            price=c.price;
         // an absent sl/tp keeps the order's stop; only an explicit 0 removes it
         double sl=(c.has_sl ? c.sl : OrderStopLoss());
         double tp=(c.has_tp ? c.tp : OrderTakeProfit());
         if(!Modify(ticket,price,sl,tp,SymbolDigits(OrderSymbol())))
           {
            Reject(r,m_last_error,"OrderModify failed");
            return;
           }
         r.status="modified";
         if(OrderSelect(ticket,SELECT_BY_TICKET))
           {
            r.price=OrderOpenPrice();
            r.volume=OrderLots();
           }
         return;
        }
      if(c.action=="cancel_pending")
        {
         if(OrderCloseTime()>0)
           {
            r.status="cancelled";
            r.error_message="already deleted";
            map.RemoveFollower(ticket);
            return;
           }
         if(!CgIsPending(OrderType()))
           {
            Reject(r,CG_ERR_BAD_COMMAND,"ticket "+IntegerToString(ticket)+" is not a pending order");
            return;
           }
         if(!Delete(ticket))
           {
            Reject(r,m_last_error,"OrderDelete failed");
            return;
           }
         r.status="cancelled";
         map.RemoveFollower(ticket);
         return;
        }
      //--- close (full or partial)
      if(OrderCloseTime()>0)
        {
         // closed by hand, or by this command before a crash: a partial close
         // left a remainder ("from #<ticket>"), which the report must name
         r.status="closed";
         r.price=OrderClosePrice();
         r.volume=OrderLots();
         r.error_message="already closed";
         int rest=FindSplitRemainder(ticket,OrderSymbol());
         r.new_ticket=rest;
         if(rest>0)
            map.Renumber(ticket,rest);
         else
            map.RemoveFollower(ticket);
         return;
        }
      if(CgIsPending(OrderType()))
        {
         Reject(r,CG_ERR_BAD_COMMAND,"ticket "+IntegerToString(ticket)+" is a pending order; use cancel_pending");
         return;
        }
      SOrderRow before;
      CgRowFromSelected(before);
      string symbol=OrderSymbol();
      double step=MarketInfo(symbol,MODE_LOTSTEP);
      double min_lot=MarketInfo(symbol,MODE_MINLOT);
      double lots=CgNormalizeLots(MathMin(c.volume,before.lots),step,min_lot,before.lots);
      if(lots<=0 || before.lots-lots<min_lot-1e-9)
         lots=before.lots;  // too small to split: close it all
      if(!CloseOrder(ticket,lots,symbol,before.type==OP_BUY))
        {
         Reject(r,m_last_error,"OrderClose failed");
         return;
        }
      r.status="closed";
      r.volume=lots;
      if(OrderSelect(ticket,SELECT_BY_TICKET))
        {
         r.price=OrderClosePrice();
         r.volume=OrderLots();
        }
      if(lots<before.lots-1e-9)
        {
         int rest=FindRemainder(ticket,before);
         r.new_ticket=rest;
         if(rest>0)
            map.Renumber(ticket,rest);
        }
      else
         map.RemoveFollower(ticket);
     }
  };

#endif
